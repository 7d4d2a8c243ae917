# fr_write_if_changed(PATH TEXT): writes TEXT to PATH unless PATH already
# holds exactly TEXT, so that a generated source's timestamp (and all that
# is built from it) changes only when its content does.
function(fr_write_if_changed path text)
  if(EXISTS ${path})
    file(READ ${path} old)
  else()
    set(old "")
  endif()
  if(NOT old STREQUAL text)
    file(WRITE ${path} "${text}")
  endif()
endfunction()

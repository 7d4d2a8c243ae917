# fr_c_bytes(PATH VAR): sets VAR to the bytes of file PATH as the body of a
# C array initializer ("0xNN," each, 16 to a line). One definition for the
# generated sources that build repository files into the library
# (embed.cmake: the verifier's weights; web_assets.cmake: the web page).
# CMake script only, so the build needs no xxd.
function(fr_c_bytes path var)
  file(READ ${path} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPEAT "0x[0-9a-f][0-9a-f]," 16 row)
  string(REGEX REPLACE "(${row})" "\\1\n" bytes "${bytes}")
  set(${var} "${bytes}" PARENT_SCOPE)
endfunction()

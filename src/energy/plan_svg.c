/*
 * plan_svg.c - a plan's charted figures as a hand-written SVG bar chart.
 *
 * One panel per charted figure key, one horizontal bar per scenario that has
 * it. The x axis is logarithmic because the scenarios differ by orders of
 * magnitude (a LoRA run and training from scratch; a phone and a data
 * centre): on a linear axis the small bar would vanish. Each bar ends at the
 * central value; a whisker spans low..high. Values <= 0 cannot sit on a log
 * axis and are listed as "not drawn" instead of being faked.
 *
 * Rejected: a plotting library (a dependency for ~200 lines of text) and
 * <text> with CSS fonts beyond generic families (renders differently
 * everywhere; sans-serif is enough).
 */
#include <frugal/cost.h>

#include "base/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVG_PANELS_MAX 24
#define SVG_W 980
#define SVG_LABEL_W 290
#define SVG_PLOT_W 430
#define SVG_ROW_H 26
#define SVG_TITLE_H 30
#define SVG_AXIS_H 34
#define SVG_LABEL_CHARS 44 /* ~6.5 px per character at 12 px fits SVG_LABEL_W */

static void esc(fr_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fr_buf_puts(b, "&amp;"); break;
        case '<': fr_buf_puts(b, "&lt;"); break;
        case '>': fr_buf_puts(b, "&gt;"); break;
        case '"': fr_buf_puts(b, "&quot;"); break;
        case '\'': fr_buf_puts(b, "&apos;"); break;
        default:
            /* Control characters are not allowed in XML 1.0 text. */
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
                fr_buf_putc(b, *s);
        }
    }
}

/* Writes at most max bytes of s (cut at a UTF-8 character boundary, "..."
 * appended when cut), escaped. */
static void esc_trunc(fr_buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) {
        esc(b, s);
        return;
    }
    size_t cut = max - 3;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    char tmp[256];
    if (cut >= sizeof tmp)
        cut = sizeof tmp - 1;
    memcpy(tmp, s, cut);
    tmp[cut] = '\0';
    esc(b, tmp);
    fr_buf_puts(b, "...");
}

typedef struct row {
    const char *scen;
    const fr_figure *f;
} row;

static double lg(double v)
{
    return log10(v);
}

static void panel(fr_buf *b, const fr_plan *p, const char *key, double *y)
{
    row rows[32];
    int nr = 0, skipped = 0;
    const fr_figure *first = NULL;
    for (size_t s = 0; s < fr_plan_scenario_count(p) && nr < 32; s++) {
        for (size_t i = 0; i < fr_plan_figure_count(p, s); i++) {
            const fr_figure *f = fr_plan_figure(p, s, i);
            if (!f->chart || strcmp(f->key, key) != 0)
                continue;
            if (!first)
                first = f;
            if (f->v.central > 0 && isfinite(f->v.high)) {
                rows[nr].scen = fr_plan_scenario_label(p, s);
                rows[nr].f = f;
                nr++;
            } else {
                skipped++;
            }
        }
    }
    if (!first)
        return;
    double lo = INFINITY, hi = 0;
    for (int r = 0; r < nr; r++) {
        double l = rows[r].f->v.low > 0 ? rows[r].f->v.low : rows[r].f->v.central;
        if (l < lo)
            lo = l;
        if (rows[r].f->v.high > hi)
            hi = rows[r].f->v.high;
    }
    fr_buf_printf(b, "<text x=\"10\" y=\"%.0f\" font-size=\"15\" font-weight=\"bold\">", *y + 20);
    esc(b, first->label);
    fr_buf_puts(b, " (log scale)</text>\n");
    *y += SVG_TITLE_H;
    if (nr == 0) {
        fr_buf_printf(b,
                      "<text x=\"20\" y=\"%.0f\" font-size=\"12\">not drawn: no positive "
                      "value</text>\n",
                      *y + 16);
        *y += SVG_ROW_H + 10;
        return;
    }
    int dmin = (int)floor(lg(lo)), dmax = (int)ceil(lg(hi));
    if (dmax <= dmin)
        dmax = dmin + 1;
    double x0 = SVG_LABEL_W, span = dmax - dmin;
#define XPOS(v) (x0 + (lg(v) - dmin) / span * SVG_PLOT_W)
    double top = *y;
    for (int r = 0; r < nr; r++) {
        const fr_figure *f = rows[r].f;
        double cy = *y + SVG_ROW_H / 2.0;
        fr_buf_printf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">",
                      SVG_LABEL_W - 8, cy + 4);
        esc_trunc(b, rows[r].scen, SVG_LABEL_CHARS);
        fr_buf_puts(b, "</text>\n");
        double xc = XPOS(f->v.central);
        fr_buf_printf(b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" "
                      "fill=\"#4a7fb5\"/>\n",
                      x0, cy - 7, xc - x0 > 0.5 ? xc - x0 : 0.5);
        double l = f->v.low > 0 ? f->v.low : f->v.central;
        double xl = XPOS(l), xh = XPOS(f->v.high);
        if (xh - xl > 0.5)
            fr_buf_printf(b,
                          "<path d=\"M%.1f %.1fv8M%.1f %.1fH%.1fM%.1f %.1fv8\" stroke=\"#222\" "
                          "stroke-width=\"1.5\" fill=\"none\"/>\n",
                          xl, cy - 4, xl, cy, xh, xh, cy - 4);
        char c[64], lo_s[64], hi_s[64];
        fr_unit_format(f->v.central, f->unit, c, sizeof c);
        fr_unit_format(f->v.low, f->unit, lo_s, sizeof lo_s);
        fr_unit_format(f->v.high, f->unit, hi_s, sizeof hi_s);
        fr_buf_printf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\">",
                      SVG_LABEL_W + SVG_PLOT_W + 10, cy + 4);
        esc(b, c);
        if (f->v.low != f->v.high) {
            fr_buf_puts(b, " (");
            esc(b, lo_s);
            fr_buf_puts(b, " - ");
            esc(b, hi_s);
            fr_buf_puts(b, ")");
        }
        fr_buf_puts(b, "</text>\n");
        *y += SVG_ROW_H;
    }
    /* axis with one tick per decade (at most ~8 labels) */
    int step = (dmax - dmin + 7) / 8;
    if (step < 1)
        step = 1;
    fr_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#888\"/>\n", x0, *y + 2,
                  x0 + SVG_PLOT_W);
    for (int d = dmin; d <= dmax; d += step) {
        double x = x0 + (d - dmin) / span * SVG_PLOT_W;
        char t[64];
        fr_unit_format(pow(10.0, d), first->unit, t, sizeof t);
        fr_buf_printf(b,
                      "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#ddd\"/>\n"
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" "
                      "fill=\"#555\">",
                      x, top, *y + 6, x, *y + 18);
        esc(b, t);
        fr_buf_puts(b, "</text>\n");
    }
    *y += SVG_AXIS_H;
    if (skipped) {
        fr_buf_printf(b,
                      "<text x=\"20\" y=\"%.0f\" font-size=\"11\" fill=\"#a00\">%d value%s "
                      "not drawn (zero or negative on a log scale)</text>\n",
                      *y, skipped, skipped == 1 ? "" : "s");
        *y += 16;
    }
#undef XPOS
}

fr_status fr_plan_svg(const fr_plan *p, char **out, fr_err *err)
{
    *out = NULL;
    const char *keys[SVG_PANELS_MAX];
    int nk = 0;
    for (size_t s = 0; s < fr_plan_scenario_count(p); s++) {
        for (size_t i = 0; i < fr_plan_figure_count(p, s); i++) {
            const fr_figure *f = fr_plan_figure(p, s, i);
            if (!f->chart)
                continue;
            int k = 0;
            while (k < nk && strcmp(keys[k], f->key) != 0)
                k++;
            if (k == nk && nk < SVG_PANELS_MAX)
                keys[nk++] = f->key;
        }
    }
    fr_buf body = FR_BUF_INIT;
    body.max = (size_t)8 << 20;
    double y = 56;
    for (int k = 0; k < nk; k++)
        panel(&body, p, keys[k], &y);
    if (nk == 0)
        y = 80;
    fr_buf doc = FR_BUF_INIT;
    doc.max = (size_t)9 << 20;
    fr_buf_printf(&doc,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
                  "viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                  "<text x=\"10\" y=\"24\" font-size=\"17\" font-weight=\"bold\">frugal plan ",
                  SVG_W, y + 10, SVG_W, y + 10);
    esc(&doc, fr_plan_kind(p));
    fr_buf_puts(&doc, ": ");
    esc(&doc, fr_plan_title(p));
    fr_buf_puts(&doc, "</text>\n<text x=\"10\" y=\"42\" font-size=\"11\" fill=\"#555\">bars: "
                      "central estimate; whiskers: low - high over the assumptions (see frugal "
                      "plan output)</text>\n");
    if (nk == 0)
        fr_buf_puts(&doc, "<text x=\"10\" y=\"70\" font-size=\"12\">nothing to chart</text>\n");
    if (body.data)
        fr_buf_append(&doc, body.data, body.len);
    fr_buf_puts(&doc, "</svg>\n");
    bool ok = fr_buf_ok(&body) && fr_buf_ok(&doc);
    fr_buf_free(&body);
    if (!ok) {
        fr_buf_free(&doc);
        return fr_err_set(err, FR_E_NOMEM, "plan svg: out of memory");
    }
    *out = fr_buf_take(&doc);
    if (!*out)
        return fr_err_set(err, FR_E_NOMEM, "plan svg: out of memory");
    return FR_OK;
}

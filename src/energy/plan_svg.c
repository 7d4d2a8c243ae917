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
 * Layout is measured from the text: the label column fits the longest
 * scenario label, the value column the longest value, and the page the
 * longest title, so nothing is cut off or runs past the right edge (checked
 * by rendering each `frugal plan` chart with rsvg-convert and looking).
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
#define SVG_ROWS_MAX 32
#define SVG_MIN_W 640
#define SVG_PLOT_W 430
#define SVG_MARGIN 10
#define SVG_GAP 8
#define SVG_ROW_H 26
#define SVG_TITLE_H 30
#define SVG_AXIS_H 34
#define SVG_LABEL_MAX 120 /* bytes of a row label drawn; longer ones end in "..." */

/* Width of text in px at a font size: the renderer measures, we cannot, so
 * this errs wide (0.62 em per character, 0.68 em bold; DejaVu Sans, the
 * usual sans-serif, averages ~0.55 em on this text). Columns and the
 * document are sized from it, so nothing is cut or runs off the edge. */
static double text_w(const char *s, double px, bool bold)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return (double)n * px * (bold ? 0.68 : 0.62);
}

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
    char value[200]; /* "225 days (180 days - 299 days)" */
} row;

/* One chart: the scenarios that have a figure with this key. */
typedef struct panel_data {
    const char *key;
    const fr_figure *first;
    row rows[SVG_ROWS_MAX];
    int nr, skipped;
} panel_data;

typedef struct layout {
    double label_w; /* right edge of the row labels */
    double x0;      /* left edge of the plot */
} layout;

static double lg(double v)
{
    return log10(v);
}

static void gather(const fr_plan *p, panel_data *d)
{
    d->nr = d->skipped = 0;
    d->first = NULL;
    for (size_t s = 0; s < fr_plan_scenario_count(p); s++) {
        for (size_t i = 0; i < fr_plan_figure_count(p, s); i++) {
            const fr_figure *f = fr_plan_figure(p, s, i);
            if (!f->chart || strcmp(f->key, d->key) != 0)
                continue;
            if (!d->first)
                d->first = f;
            if (!(f->v.central > 0 && isfinite(f->v.high))) {
                d->skipped++;
                continue;
            }
            if (d->nr == SVG_ROWS_MAX)
                continue;
            row *r = &d->rows[d->nr++];
            r->scen = fr_plan_scenario_label(p, s);
            r->f = f;
            char c[64], lo_s[64], hi_s[64];
            fr_unit_format(f->v.central, f->unit, c, sizeof c);
            fr_unit_format(f->v.low, f->unit, lo_s, sizeof lo_s);
            fr_unit_format(f->v.high, f->unit, hi_s, sizeof hi_s);
            if (f->v.low != f->v.high)
                snprintf(r->value, sizeof r->value, "%s (%s - %s)", c, lo_s, hi_s);
            else
                snprintf(r->value, sizeof r->value, "%s", c);
        }
    }
}

/* The axis of a chart in days is drawn in one unit (hours, days or years,
 * from its largest value) so that its decades are round numbers in that
 * unit; fr_unit_format would switch from "100 days" to "2.74 years" along
 * the axis. Every other unit changes only by powers of ten (SI prefixes). */
typedef struct axis_unit {
    double per;       /* figure units per axis unit */
    const char *name; /* NULL: label with fr_unit_format */
} axis_unit;

static axis_unit axis_unit_for(fr_unit u, double hi)
{
    axis_unit a = {1, NULL};
    if (u == FR_UNIT_DAYS) {
        if (hi >= 730)
            a = (axis_unit){365, "years"};
        else if (hi < 2)
            a = (axis_unit){1.0 / 24, "hours"};
        else
            a = (axis_unit){1, "days"};
    }
    return a;
}

/* The label of the tick at v axis units. */
static void tick_label(double v, fr_unit u, const axis_unit *a, char *out, size_t n)
{
    if (!a->name) {
        fr_unit_format(v * a->per, u, out, n);
        return;
    }
    char num[32];
    fr_unit_format(v, FR_UNIT_NONE, num, sizeof num);
    /* "1 year", "10 years" */
    size_t len = strlen(a->name);
    if (snprintf(out, n, "%s %.*s", num, (int)(strcmp(num, "1") == 0 ? len - 1 : len), a->name) < 0)
        out[0] = '\0';
}

static void panel(fr_buf *b, const panel_data *d, const layout *L, double *y)
{
    const fr_figure *first = d->first;
    fr_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"15\" font-weight=\"bold\">",
                  SVG_MARGIN, *y + 20);
    esc(b, first->label);
    fr_buf_puts(b, " (log scale)</text>\n");
    *y += SVG_TITLE_H;
    if (d->nr == 0) {
        fr_buf_printf(b,
                      "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">not drawn: no positive "
                      "value</text>\n",
                      SVG_MARGIN + 10, *y + 16);
        *y += SVG_ROW_H + 10;
        return;
    }
    double lo = INFINITY, hi = 0;
    for (int r = 0; r < d->nr; r++) {
        const fr_figure *f = d->rows[r].f;
        double l = f->v.low > 0 ? f->v.low : f->v.central;
        if (l < lo)
            lo = l;
        if (f->v.high > hi)
            hi = f->v.high;
        if (f->v.central > hi)
            hi = f->v.central;
    }
    axis_unit au = axis_unit_for(first->unit, hi);
    int dmin = (int)floor(lg(lo / au.per)), dmax = (int)ceil(lg(hi / au.per));
    /* a value on the axis' first decade would draw no bar at all (1 GPU on
     * an axis from 1): start one decade lower */
    if (lg(lo / au.per) - dmin < 0.05)
        dmin--;
    if (dmax <= dmin)
        dmax = dmin + 1;
    double x0 = L->x0, span = dmax - dmin;
#define XPOS(v) (x0 + (lg((v) / au.per) - dmin) / span * SVG_PLOT_W)
    double top = *y;
    for (int r = 0; r < d->nr; r++) {
        const fr_figure *f = d->rows[r].f;
        double cy = *y + SVG_ROW_H / 2.0;
        fr_buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">",
                      L->label_w, cy + 4);
        esc_trunc(b, d->rows[r].scen, SVG_LABEL_MAX);
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
        fr_buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"12\">",
                      x0 + SVG_PLOT_W + SVG_GAP + 2, cy + 4);
        esc(b, d->rows[r].value);
        fr_buf_puts(b, "</text>\n");
        *y += SVG_ROW_H;
    }
    /* axis: a tick every `step` decades, as many as fit without their
     * labels running into each other */
    double widest = 0;
    for (int k = dmin; k <= dmax; k++) {
        char t[64];
        tick_label(pow(10.0, k), first->unit, &au, t, sizeof t);
        if (text_w(t, 10, false) > widest)
            widest = text_w(t, 10, false);
    }
    int step = 1;
    while (step < dmax - dmin && SVG_PLOT_W / span * step < widest + 8)
        step++;
    fr_buf_printf(b, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#888\"/>\n", x0, *y + 2,
                  x0 + SVG_PLOT_W);
    for (int k = dmin; k <= dmax; k += step) {
        double x = x0 + (k - dmin) / span * SVG_PLOT_W;
        char t[64];
        tick_label(pow(10.0, k), first->unit, &au, t, sizeof t);
        fr_buf_printf(b,
                      "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#ddd\"/>\n"
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" "
                      "fill=\"#555\">",
                      x, top, *y + 6, x, *y + 18);
        esc(b, t);
        fr_buf_puts(b, "</text>\n");
    }
    *y += SVG_AXIS_H;
    if (d->skipped) {
        fr_buf_printf(b,
                      "<text x=\"%d\" y=\"%.0f\" font-size=\"11\" fill=\"#a00\">%d value%s "
                      "not drawn (zero or negative on a log scale)</text>\n",
                      SVG_MARGIN + 10, *y, d->skipped, d->skipped == 1 ? "" : "s");
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
    panel_data *pd = calloc(nk ? (size_t)nk : 1, sizeof *pd);
    if (!pd)
        return fr_err_set(err, FR_E_NOMEM, "plan svg: out of memory");
    /* measure: the label column fits the longest row label, the value
     * column the longest value, the page the longest title */
    double label_w = 0, value_w = 0, title_w = 0;
    char title[600];
    snprintf(title, sizeof title, "frugal plan %s: %s", fr_plan_kind(p), fr_plan_title(p));
    title_w = text_w(title, 17, true);
    static const char legend[] = "bars: central estimate; whiskers: low - high over the "
                                 "assumptions (see frugal plan output)";
    if (text_w(legend, 11, false) > title_w)
        title_w = text_w(legend, 11, false);
    for (int k = 0; k < nk; k++) {
        pd[k].key = keys[k];
        gather(p, &pd[k]);
        char pt[300];
        snprintf(pt, sizeof pt, "%s (log scale)", pd[k].first ? pd[k].first->label : "");
        if (text_w(pt, 15, true) > title_w)
            title_w = text_w(pt, 15, true);
        for (int r = 0; r < pd[k].nr; r++) {
            double lw = text_w(pd[k].rows[r].scen, 12, false);
            if (lw > text_w("x", 12, false) * SVG_LABEL_MAX)
                lw = text_w("x", 12, false) * SVG_LABEL_MAX;
            if (lw > label_w)
                label_w = lw;
            if (text_w(pd[k].rows[r].value, 12, false) > value_w)
                value_w = text_w(pd[k].rows[r].value, 12, false);
        }
    }
    layout L;
    L.label_w = SVG_MARGIN + (label_w > 60 ? label_w : 60);
    L.x0 = L.label_w + SVG_GAP;
    double width = L.x0 + SVG_PLOT_W + SVG_GAP + 2 + value_w + SVG_MARGIN;
    if (width < SVG_MARGIN * 2 + title_w)
        width = SVG_MARGIN * 2 + title_w;
    if (width < SVG_MIN_W)
        width = SVG_MIN_W;

    fr_buf body = FR_BUF_INIT;
    body.max = (size_t)8 << 20;
    double y = 56;
    for (int k = 0; k < nk; k++)
        if (pd[k].first)
            panel(&body, &pd[k], &L, &y);
    free(pd);
    if (nk == 0)
        y = 80;
    fr_buf doc = FR_BUF_INIT;
    doc.max = (size_t)9 << 20;
    fr_buf_printf(&doc,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                  "<text x=\"%d\" y=\"24\" font-size=\"17\" font-weight=\"bold\">",
                  ceil(width), y + 10, ceil(width), y + 10, SVG_MARGIN);
    esc(&doc, title);
    fr_buf_printf(&doc, "</text>\n<text x=\"%d\" y=\"42\" font-size=\"11\" fill=\"#555\">%s</text>\n",
                  SVG_MARGIN, legend);
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

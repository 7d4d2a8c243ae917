/*
 * token_cost.c - what one token costs in watt-hours, dollars, grams of CO2
 * and battery, from a measured J/token range (see frugal/cost.h).
 *
 * Kept in the library rather than in `frugal bench` so that bench, serve
 * and plan use one set of formulas and one set of defaults. Every output is
 * increasing in J/token, so the range maps straight through.
 */
#include <frugal/cost.h>

#include <math.h>

static double or_default(double v, double def)
{
    return v > 0 ? v : def;
}

static fr_range scale(fr_range r, double k, double add)
{
    fr_range o = {r.low * k + add, r.central * k + add, r.high * k + add};
    return o;
}

fr_status fr_token_costs_compute(const fr_token_cost_in *in, fr_token_costs *out, fr_err *err)
{
    fr_range j = in->j_per_token;
    if (!(isfinite(j.low) && isfinite(j.central) && isfinite(j.high) && j.low > 0 &&
          j.low <= j.central && j.central <= j.high))
        return fr_err_set(err, FR_E_INVALID,
                          "token costs: J/token needs 0 < low <= central <= high, got %g, %g, %g",
                          j.low, j.central, j.high);
    const double f[] = {in->tok_s,      in->price_kwh, in->grid_g_per_kwh,
                        in->battery_wh, in->hw_price,  in->hw_years};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!isfinite(f[i]) || f[i] < 0)
            return fr_err_set(err, FR_E_INVALID,
                              "token costs: speeds, prices, grid, battery and years must be "
                              "finite and >= 0");
    double price = or_default(in->price_kwh, FR_DEFAULT_PRICE_KWH);
    double grid = or_default(in->grid_g_per_kwh, FR_DEFAULT_GRID_G_PER_KWH);
    double battery = or_default(in->battery_wh, FR_DEFAULT_BATTERY_WH);
    double years = or_default(in->hw_years, FR_DEFAULT_HW_YEARS);
    /* J -> Wh: / 3600; J -> kWh: / 3.6e6 */
    out->wh_per_1k = scale(j, 1000.0 / 3600.0, 0);
    out->usd_per_mtok_energy = scale(j, 1e6 / 3.6e6 * price, 0);
    out->g_co2_per_1k = scale(j, 1000.0 / 3.6e6 * grid, 0);
    out->battery_pct_per_1k = scale(j, 1000.0 / 3600.0 / battery * 100.0, 0);
    out->usd_hw_per_mtok = 0;
    if (in->hw_price > 0 && in->tok_s > 0)
        out->usd_hw_per_mtok = in->hw_price / (years * 365.0 * 86400.0) / in->tok_s * 1e6;
    out->usd_per_mtok = scale(j, 1e6 / 3.6e6 * price, out->usd_hw_per_mtok);
    return FR_OK;
}

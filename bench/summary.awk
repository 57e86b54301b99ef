# scripts/bench's summary: one markdown table from the benchmarks' RESULT lines.
# Input: "RUN KEY VALUE UNIT" per line (RUN numbers the repeated runs of one benchmark).
# Variables: machine (the machine line), when (date), repeat (runs), batch (batch size).
# Figures are medians over the runs; "spread" is (max - min) / median over them.

{
    key = $2
    n[key]++
    v[key, n[key]] = $3 + 0
}

function median(key,   a, k, i, j, t) {
    k = n[key]
    if (k == 0)
        return "";
    for (i = 1; i <= k; i++) a[i] = v[key, i]
    for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}

function spread(key,   i, lo, hi, m) {
    if (n[key] < 2)
        return "";
    lo = hi = v[key, 1]
    for (i = 2; i <= n[key]; i++) { if (v[key, i] < lo) lo = v[key, i]; if (v[key, i] > hi) hi = v[key, i] }
    m = median(key)
    return m > 0 ? sprintf("%.0f%%", 100 * (hi - lo) / m) : ""
}

function has(key) { return n[key] > 0 }

function ms(x) { return x == "" ? "–" : x < 1 ? sprintf("%.2f ms", x) : x < 100 ? sprintf("%.1f ms", x) : sprintf("%.0f ms", x) }

function per_s(x) { return x == "" || x <= 0 ? "" : 1000 / x >= 100 ? sprintf("%.0f", 1000 / x) : sprintf("%.1f", 1000 / x) }

function mb(kib) { return sprintf("%.0f MB", kib / 1024) }

function row(what, value, rate, sp, goal, status) {
    printf "| %s | %s | %s | %s | %s | %s |\n", what, value, rate, sp, goal, status
}

# one side of the glabels comparison: one more card / all cards with start-up / CPU of one more
function cmp_row(what, k) {
    row(what, ms(median(k ".marginal_ms")) " / " ms(median(k ".ms_per_card")) " / " ms(median(k ".cpu_marginal_ms")),
        per_s(median(k ".marginal_ms")), sprintf("%.0f%%", median(k ".spread_pct")), "", "")
}

# a render figure against the goal of under 5 ms a card
function render_row(what, key,   m) {
    if (!has(key))
        return;
    m = median(key)
    row(what, ms(m), per_s(m), spread(key), "< 5 ms/card", m < 5 ? "**met**" : "not met")
}

function ratio_row(what, key,   m) {
    if (!has(key))
        return;
    m = median(key)
    row(what, sprintf("%.1f×", m), "", "", "≥ 20× glabels", m >= 20 ? "**met**" : "not met")
}

END {
    printf "\n## Summary, %s\n\n%s\n\n", when, machine
    printf "Medians of %d runs on one core (`taskset -c 0`; the daemon uses both); spread = (max − min) / median over the runs.\n\n", repeat
    print "| special-operation card, both sides | median | per second | spread | goal | |"
    print "|---|---|---|---|---|---|"
    if (has("render.startup_ms"))
        row("render start-up: pinned fonts verified and loaded, layout parsed (once)", ms(median("render.startup_ms")), "", spread("render.startup_ms"), "", "")
    if (has("render.layout_ms"))
        row("layout: field texts, fitting, photo decode + crop + JPEG, QR", ms(median("render.layout_ms")), per_s(median("render.layout_ms")), spread("render.layout_ms"), "", "")
    render_row("**card → printer planes**, 300 dpi (colour, K, overlay): the raw-USB path", "render.card_to_planes_ms")
    render_row(sprintf("card → PDF, in a batch PDF (%s cards)", median("render.batch_cards")), "render.batch_pdf_ms")
    render_row("card → PDF, a file of its own", "render.card_to_pdf_ms")
    if (has("render.peak_rss_kib"))
        row("peak memory (resident), render benchmark", mb(median("render.peak_rss_kib")), "", "", "", "")
    if (has("render.batch_rss_end_kib")) {
        s = median("render.batch_rss_start_kib"); t = median("render.batch_rss_10pct_kib"); e = median("render.batch_rss_end_kib")
        row(sprintf("batch PDF memory: resident at start / after 10%% / at end (%s cards)", median("render.batch_cards")),
            mb(s) " / " mb(t) " / " mb(e), "", "", "constant", e <= t * 1.02 ? "**met**" : "not met")
    }
    split("ES256 EdDSA SM2-SM3", algs, " ")
    for (i = 1; i <= 3; i++) {
        k = "credential." algs[i]
        if (has(k ".sign_qr_ms"))
            row(sprintf("QR credential %s: sign + encode + QR / verify (%d chars, version %d)", algs[i], median(k ".chars"), median(k ".qr_version")),
                ms(median(k ".sign_qr_ms")) " / " ms(median(k ".verify_ms")), per_s(median(k ".sign_qr_ms")), spread(k ".sign_qr_ms"), "", "")
    }
    if (has("protocol.evolis-ymcko-7-bit-dbc-k-o.card.ms"))
        row("printer protocol, planes → bytes: Evolis YMCKO (Dbc) / Magicard KEE",
            ms(median("protocol.evolis-ymcko-7-bit-dbc-k-o.card.ms")) " / " ms(median("protocol.magicard-kee-rio-ymcko.card.ms")),
            per_s(median("protocol.evolis-ymcko-7-bit-dbc-k-o.card.ms")), spread("protocol.evolis-ymcko-7-bit-dbc-k-o.card.ms"), "", "")
    split("1t 8t", th, " ")
    for (i = 1; i <= 2; i++) {
        k = "daemon.submit_" th[i]
        if (has(k ".jobs_per_s"))
            row(sprintf("daemon: durable submissions, %s, p50 / p99", th[i] == "1t" ? "one client" : substr(th[i], 1, length(th[i]) - 1) " client threads"),
                ms(median(k ".p50_ms")) " / " ms(median(k ".p99_ms")), sprintf("%.0f jobs", median(k ".jobs_per_s")), spread(k ".jobs_per_s"), "", "")
    }
    if (has("daemon.e2e.cards_per_s"))
        row(sprintf("daemon: batch of %d end to end to the simulated printer (sign, render, 4 PNGs a side, fsync)", median("daemon.e2e.cards")),
            ms(1000 / median("daemon.e2e.cards_per_s")), sprintf("%.2f cards", median("daemon.e2e.cards_per_s")), spread("daemon.e2e.cards_per_s"), "", "")
    if (has("cmp.glabels.marginal_ms")) {
        c = median("cmp.cards")
        cmp_row(sprintf("**glabels-3-batch**: CSV (fields, signed QR text, photo path) → PDF, front + back; one more card / all %d with start-up / CPU time of one more card", c), "cmp.glabels")
        cmp_row(sprintf("cardspool render, the same %d cards (JSON Lines; validates and signs) → batch PDF; the same three", c), "cmp.cardspool_pdf")
        cmp_row(sprintf("cardspool render, the same %d cards → printer planes written as PNG; the same three", c), "cmp.cardspool_planes")
        row("peak memory (resident): glabels / cardspool PDF / cardspool planes",
            mb(median("cmp.glabels.peak_rss_kib")) " / " mb(median("cmp.cardspool_pdf.peak_rss_kib")) " / " mb(median("cmp.cardspool_planes.peak_rss_kib")), "", "", "", "")
        ratio_row("**glabels / cardspool per card, PDF** (one more card, wall time)", "cmp.ratio_pdf_marginal")
        ratio_row("glabels / cardspool per card, PDF (one more card, CPU time)", "cmp.ratio_pdf_cpu_marginal")
        ratio_row(sprintf("glabels / cardspool per card, PDF (all %d cards, with start-up)", c), "cmp.ratio_pdf_raw")
        ratio_row("glabels PDF / cardspool planes written as PNG files (one more card)", "cmp.ratio_planes_marginal")
        if (has("render.card_to_planes_ms") && median("render.card_to_planes_ms") > 0) {
            n["cmp.ratio_planes_in_memory"] = 1
            v["cmp.ratio_planes_in_memory", 1] = median("cmp.glabels.marginal_ms") / median("render.card_to_planes_ms")
            ratio_row("glabels PDF (one more card) / card → printer planes in memory (bench-render, above)", "cmp.ratio_planes_in_memory")
        }
        if (has("cmp.qr_check") && median("cmp.qr_check") != 1)
            row("QR check of the comparison's outputs", "FAILED", "", "", "", "")
    }
}

#!/usr/bin/env python3
"""Tables and plots of bench/peers and bench/scale (Python standard library
and gnuplot only).

  report.py peers RESULTS IMG_DIR SPACED_MS STATUS_GAP_MS
      reads RESULTS/rows.tsv, entries.tsv, samples/ and machine.md; writes
      RESULTS/peers.md and IMG_DIR/peers-latency.{png,svg},
      IMG_DIR/peers-idle.{png,svg}
  report.py scale RESULTS IMG_DIR
      reads RESULTS/scale.tsv, samples/ and machine.md; writes
      RESULTS/scale.md and IMG_DIR/scale.{png,svg}

Percentiles are nearest-rank (as bench/daemon_bench does); p50 is the median.
"""
import math
import pathlib
import shutil
import subprocess
import sys

HGW = "hermes-gatewayd"
FLOOR = "sdbus-c++ floor"  # bench/rss_floor.cpp: idle memory only
TOOLS = ["no supervisor", HGW, FLOOR, "systemd", "s6", "supervisord"]
COLORS = {"no supervisor": "#888888", HGW: "#1b7837", FLOOR: "#a6dba0", "systemd": "#2166ac",
          "s6": "#b2182b", "supervisord": "#e08214"}


def percentile(xs, p):
    s = sorted(xs)
    rank = max(1, min(len(s), math.ceil(p * len(s))))
    return s[rank - 1]


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def column(path, col):
    """Column col (1-based) of a whitespace-separated samples file."""
    out = []
    for line in pathlib.Path(path).read_text().split("\n"):
        if line.strip():
            out.append(float(line.split()[col - 1]))
    return out


def fmt(x, unit="ms"):
    if x is None:
        return "—"
    if unit == "count":
        return f"{x:.0f}"
    if x >= 100:
        return f"{x:,.0f}".replace(",", " ")
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def ratio(x, ref):
    if x is None or ref is None:
        return "—"
    if ref == 0:
        return "= (both 0)" if x == 0 else "—"
    return f"{x / ref:.2f}×"


def gnuplot(script, workdir):
    r = subprocess.run(["gnuplot"], input=script, text=True, cwd=workdir,
                       capture_output=True)
    if r.returncode != 0:
        sys.exit(f"report.py: gnuplot failed:\n{r.stderr}")


def render(name, body, results, img_dir, width, height):
    """Runs the same gnuplot body for PNG and SVG; copies both to img_dir."""
    img_dir.mkdir(parents=True, exist_ok=True)
    for term, ext in ((f"pngcairo size {width},{height} font 'DejaVu Sans,10'", "png"),
                      (f"svg size {width},{height} dynamic font 'DejaVu Sans,10'", "svg")):
        gnuplot(f"set terminal {term}\nset output '{name}.{ext}'\n{body}", results)
        shutil.copy(results / f"{name}.{ext}", img_dir / f"{name}.{ext}")


def quote(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


# ------------------------------------------------------------ peers

IDLE_COLUMNS = {"rss_mib": (1, 1 / 1024), "pss_mib": (2, 1 / 1024),
                "private_mib": (3, 1 / 1024), "wakeups": (4, 1)}


def load_peers(results):
    rows = {}
    for line in (results / "rows.tsv").read_text().splitlines():
        rid, l0, l1, path = line.split("\t")
        rows[rid] = (l0, l1, path)
    entries = []
    for line in (results / "entries.tsv").read_text().splitlines():
        figure, tool, how, rid, col, child_col = line.split("\t")
        l0, l1, path = rows[rid]
        if col in IDLE_COLUMNS:
            idx, scale = IDLE_COLUMNS[col]
            xs = [x * scale for x in column(path, idx)]
            unit = "count" if col == "wakeups" else "MiB"
        else:
            xs = column(path, int(col))
            unit = "ms"
        child = column(path, int(child_col)) if child_col != "-" else None
        entries.append(dict(figure=figure, tool=tool, how=how, n=len(xs), unit=unit,
                            p50=median(xs), p95=percentile(xs, 0.95) if len(xs) > 1 else None,
                            child50=median(child) if child else None, load=f"{l0} → {l1}"))
    return entries


def peers(results, img_dir, spaced_ms, status_gap_ms):
    entries = load_peers(results)
    figures = list(dict.fromkeys(e["figure"] for e in entries))
    ref = {}
    for e in entries:
        if e["tool"] == HGW and e["figure"] not in ref:
            ref[e["figure"]] = e
    floor = next((e["p50"] for e in entries if e["tool"] == "no supervisor"), None)

    out = ["| figure | supervisor | how | N | p50 | p95 | p50 ÷ hermes-gatewayd's | p50 over the floor | "
           "new child's READY=1, p50 | load (1 min), start → end |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for f in figures:
        first = True
        for e in (x for x in entries if x["figure"] == f):
            r = ref.get(f)
            is_ref = r is e
            over = (fmt(e["p50"] - floor) if e["unit"] == "ms" and floor is not None
                    and ("restart" in f or "kill" in f) else "—")
            out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                f"**{f}**" if first else "", e["tool"], e["how"], e["n"],
                f"**{fmt(e['p50'], e['unit'])}**" if is_ref else fmt(e["p50"], e["unit"]),
                fmt(e["p95"], e["unit"]),
                "1 (reference)" if is_ref else ratio(e["p50"], r["p50"] if r else None),
                over, fmt(e["child50"]), e["load"]))
            first = False

    goals = peers_goals(entries, figures, ref)
    machine = (results / "machine.md").read_text().strip()
    text = "\n".join([
        "Times in milliseconds, memory in MiB. p50 is the median, p95 the nearest-rank 95th "
        "percentile, N the number of samples. \"p50 over the floor\" subtracts the floor row "
        "(fork+exec of the bare child to its READY=1). \"new child's READY=1\" runs from the "
        "start of the command to the child's own timestamp of its readiness.",
        "", *out, "", "Goals:", "", *goals, "", "Run:", "", machine, ""])
    (results / "peers.md").write_text(text)
    plot_peers_latency(entries, figures, results, img_dir)
    plot_peers_idle(entries, results, img_dir)


def peers_goals(entries, figures, ref):
    lines = []
    for f in figures:
        if not ("restart" in f or "kill" in f) or f not in ref:
            continue
        peers_ = [e for e in entries if e["figure"] == f and e["tool"] not in (HGW, "no supervisor")]
        if not peers_:
            continue
        best = min(peers_, key=lambda e: e["p50"])
        for mine in (e for e in entries if e["figure"] == f and e["tool"] == HGW):
            verdict = "met" if mine["p50"] < best["p50"] else "MISSED"
            lines.append(f"- {f}, {mine['how']}: ahead of every peer: **{verdict}** "
                         f"(p50 {fmt(mine['p50'])} ms; best peer {best['tool']} {fmt(best['p50'])} ms)")
    rss = next((e for e in entries if e["tool"] == HGW and e["unit"] == "MiB" and "RSS" in e["figure"]), None)
    wake = next((e for e in entries if e["tool"] == HGW and e["unit"] == "count"), None)
    if rss and wake:
        ok = rss["p50"] < 4 and wake["p50"] == 0
        lines.append(f"- idle RSS below 4 MiB with 0 wake-ups: **{'met' if ok else 'MISSED'}** "
                     f"(RSS {rss['p50']:.2f} MiB, {wake['p50']:.0f} wake-ups)")
    return lines


def plot_peers_latency(entries, figures, results, img_dir):
    # One horizontal bar per row (p50), a whisker to p95, grouped by figure.
    data, labels, heads = [], [], []
    y = 0
    timed = [f for f in figures if any(e["figure"] == f and e["unit"] == "ms" for e in entries)]
    for f in timed:
        heads.append((y, f))
        y += 1
        for e in (x for x in entries if x["figure"] == f):
            label = e["tool"]
            if "pidfile check" in e["how"]:
                label += " (pidfile check)"
            elif "--write-pidfile" in e["how"]:
                label += " --write-pidfile"
            data.append((y, TOOLS.index(e["tool"]), e["p50"], e["p95"] or e["p50"]))
            labels.append((y, label))
            y += 1
        y += 0.5
    with open(results / "peers-latency.dat", "w") as fh:
        for yy, t, p50, p95 in data:
            fh.write(f"{yy} {t} {p50} {p95}\n")
    xmin = min(d[2] for d in data) / 3
    xmax = max(d[3] for d in data) * 4
    ytics = ", ".join(f'"{quote(lab)}" {yy}' for yy, lab in labels)
    head_labels = "\n".join(
        f'set label "{quote(h)}" at {xmin * 1.05}, {yy} left font ",10" tc rgb "#000000"'
        for yy, h in heads)
    plots = []
    for i, tool in enumerate(TOOLS):
        if any(d[1] == i for d in data):
            plots.append(f"'peers-latency.dat' using (($2=={i})?sqrt({xmin}*$3):1/0):1:({xmin}):3:($1-0.35):($1+0.35) "
                         f"with boxxyerror fs solid 0.85 noborder lc rgb '{COLORS[tool]}' title '{tool}'")
    plots.append("'peers-latency.dat' using 3:1:3:4 with xerrorbars pt 0 lc rgb '#333333' notitle")
    plots.append("'peers-latency.dat' using ($4*1.15):1:($3 >= 100 ? sprintf('%.0f', $3) : sprintf('%.3g', $3)) "
                 "with labels left font ',8' notitle")
    body = f"""
set title "Restart, recovery and status: p50 (bar) and p95 (whisker), milliseconds, log scale"
set logscale x
set xrange [{xmin}:{xmax}]
set yrange [{y}:-1]
set ytics ({ytics}) nomirror font ",9"
set xtics nomirror
set grid xtics
set key outside top center horizontal
{head_labels}
plot {", ".join(plots)}
"""
    render("peers-latency", body, results, img_dir, 1100, 160 + 22 * int(y + 1))


def plot_peers_idle(entries, results, img_dir):
    tools = [t for t in TOOLS if any(e["tool"] == t and e["unit"] == "MiB" for e in entries)]

    def val(tool, word):
        e = next(x for x in entries if x["tool"] == tool and word in x["figure"])
        return e["p50"]

    with open(results / "peers-idle.dat", "w") as fh:
        for t in tools:
            fh.write('"{}\\n{:.0f} wake-ups" {} {} {}\n'.format(
                t, val(t, "wake-ups"), val(t, "RSS"), val(t, "PSS"), val(t, "private")))
    body = """
set title "Idle memory of the supervisor's own processes (MiB) and wake-ups in the idle window"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set ylabel "MiB"
set yrange [0:*]
set grid ytics
set key top left
set xtics nomirror
set bmargin 4
plot 'peers-idle.dat' using 2:xtic(1) title 'RSS' lc rgb '#4d4d4d', \\
     '' using 3 title 'PSS' lc rgb '#878787', \\
     '' using 4 title 'private (clean + dirty)' lc rgb '#1b7837', \\
     '' using ($0-0.27):($2):(sprintf('%.1f', $2)) with labels offset 0,0.7 font ',8' notitle, \\
     '' using ($0+0.27):($4):(sprintf('%.2f', $4)) with labels offset 0,0.7 font ',8' notitle
"""
    render("peers-idle", body, results, img_dir, 800, 480)


# ------------------------------------------------------------ scale

def scale(results, img_dir):
    recs = []
    for line in (results / "scale.tsv").read_text().splitlines():
        homes, rss, pss, priv, wake, load0, load1, status_file, kill_file = line.split("\t")
        st = column(status_file, 1)
        kl = column(kill_file, 1)
        recs.append(dict(homes=int(homes), rss=int(rss) / 1024, pss=int(pss) / 1024, priv=int(priv) / 1024,
                         wake=int(wake), load=f"{load0} → {load1}",
                         st_n=len(st), st50=median(st), st99=percentile(st, 0.99),
                         kl_n=len(kl), kl50=median(kl), kl_max=max(kl)))
    out = ["| homes | daemons' RSS, total | PSS, total | private, total | RSS per daemon | "
           "wake-ups of all daemons in the idle window | GetStatus, all homes at once: N / p50 / p99 (µs) | "
           "kill -9 of min(10, homes) children at once → all READY=1: N / p50 / max (ms) | load (1 min), start → end |",
           "|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in recs:
        out.append(f"| {r['homes']} | {r['rss']:.1f} MiB | {r['pss']:.1f} MiB | {r['priv']:.1f} MiB | "
                   f"{r['rss'] / r['homes']:.2f} MiB | {r['wake']} | {r['st_n']} / {r['st50']:.0f} / {r['st99']:.0f} | "
                   f"{r['kl_n']} / {fmt(r['kl50'])} / {fmt(r['kl_max'])} | {r['load']} |")
    one = next((r for r in recs if r["homes"] == 1), None)
    fifty = next((r for r in recs if r["homes"] == 50), None)
    goals = []
    if one and fifty:
        for key, what in (("rss", "RSS"), ("pss", "PSS"), ("priv", "private memory")):
            k = fifty[key] / one[key]
            goals.append(f"- 50 homes within 50× one home's memory ({what}): "
                         f"**{'met' if k <= 50 else 'MISSED'}** ({fifty[key]:.1f} MiB = {k:.1f}× {one[key]:.2f} MiB)")
    if one:
        ok = one["rss"] < 4 and one["wake"] == 0
        goals.append(f"- idle RSS below 4 MiB with 0 wake-ups (one home): **{'met' if ok else 'MISSED'}** "
                     f"(RSS {one['rss']:.2f} MiB, {one['wake']} wake-ups)")
    goals.append(f"- idle wake-ups stay 0 at every scale: **{'met' if all(r['wake'] == 0 for r in recs) else 'MISSED'}** "
                 f"({', '.join(str(r['wake']) for r in recs)})")
    machine = (results / "machine.md").read_text().strip()
    text = "\n".join([*out, "", "Goals:", "", *goals, "", "Run:", "", machine, ""])
    (results / "scale.md").write_text(text)

    with open(results / "scale.dat", "w") as fh:
        for r in recs:
            fh.write(f"{r['homes']} {r['rss']} {r['pss']} {r['priv']} {r['wake']} {r['st50']} {r['st99']} "
                     f"{r['kl50']} {r['kl_max']} {one['rss'] * r['homes'] if one else 0}\n")
    xt = ", ".join(str(r["homes"]) for r in recs)
    body = f"""
set multiplot layout 2,2 title "hermes-gatewayd, one daemon and one C child per Hermes home, one bus"
set logscale x
set xrange [0.8:{max(r['homes'] for r in recs) * 1.3}]
set xtics ({xt}) nomirror
set xlabel "homes"
set grid
set key top left font ",8"
set title "Memory of all daemons (MiB)"
set logscale y
plot 'scale.dat' using 1:2 with linespoints pt 7 lc rgb '#4d4d4d' title 'RSS, total', \\
     '' using 1:3 with linespoints pt 7 lc rgb '#2166ac' title 'PSS, total', \\
     '' using 1:4 with linespoints pt 7 lc rgb '#1b7837' title 'private, total', \\
     '' using 1:10 with lines dt 2 lc rgb '#b2182b' title 'homes × one home''s RSS'
unset logscale y
set title "Wake-ups of all daemons in the idle window"
set yrange [-0.5:{max(5, 1.2 * max(r['wake'] for r in recs))}]
plot 'scale.dat' using 1:5 with linespoints pt 7 lc rgb '#1b7837' title 'context switches'
set yrange [*:*]
set title "GetStatus, one client per home, all at once (µs)"
set logscale y
plot 'scale.dat' using 1:6 with linespoints pt 7 lc rgb '#2166ac' title 'p50', \\
     '' using 1:7 with linespoints pt 7 lc rgb '#b2182b' title 'p99'
set title "kill -9 of min(10, homes) children at once → READY=1 (ms)"
plot 'scale.dat' using 1:8 with linespoints pt 7 lc rgb '#2166ac' title 'p50', \\
     '' using 1:9 with linespoints pt 7 lc rgb '#b2182b' title 'max'
unset multiplot
"""
    render("scale", body, results, img_dir, 1000, 760)


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "peers":
        peers(pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif len(sys.argv) >= 4 and sys.argv[1] == "scale":
        scale(pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

"""Times the dashboard's pages and API over HTTP: each URL ROUNDS times after one warm-up
request, sequentially; prints each URL's median and range in milliseconds, and the median over
all of the 100,000-run pages.
    python3 time_pages.py BASE_URL LONG_RUN_ID SHORT_RUN_ID ROUNDS
"""
import statistics, sys, time, urllib.request

base, big, short, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
paths = [
    ("runs page, newest first", "/"),
    ("runs page, sorted by energy", "/?sort=energy&order=desc"),
    ("runs page, page 1000", "/?page=1000"),
    ("runs page, one project", "/?project=project-7"),
    ("runs page, one label", "/?label=team%3Dt7"),
    ("runs page, one day", "/?since=2026-06-01&until=2026-06-02"),
    ("API runs", "/api/runs"),
    ("API runs, sorted by duration", "/api/runs?sort=duration&per=100"),
    ("one run page", "/runs/" + short),
    ("API one run", "/api/runs/" + short),
    ("compare page", "/compare"),
    ("24 h run at 10 Hz: page", "/runs/" + big),
    ("24 h run at 10 Hz: API series", "/api/runs/%s/series" % big),
]
medians = []
for name, p in paths:
    url = base + p
    urllib.request.urlopen(url).read()
    ms = []
    for _ in range(rounds):
        t = time.perf_counter()
        body = urllib.request.urlopen(url).read()
        ms.append((time.perf_counter() - t) * 1000)
    m = statistics.median(ms)
    if "24 h" not in name:
        medians.append(m)
    print("%-34s median %7.1f ms  (%.1f–%.1f, %d bytes)" % (name, m, min(ms), max(ms), len(body)))
print("median over the 100,000-run pages and API: %.1f ms (target < 100 ms)" % statistics.median(medians))

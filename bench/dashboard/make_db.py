"""Fills a greenai database for the dashboard benchmark: N runs copied from one real run (ids,
start times, projects, commands, labels and energies varied; every run complete) and one run of
H hours at 10 Hz (its samples copied from the real run's, seq and times advanced). One
transaction; the template comes from `greenai run` so that every column is greenai's own.
    python3 make_db.py DB N HOURS
"""
import json, random, sqlite3, sys

db, n, hours = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
con = sqlite3.connect(db)
cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
tmpl = dict(zip(cols, con.execute("SELECT * FROM runs LIMIT 1").fetchone()))
scols = [r[1] for r in con.execute("PRAGMA table_info(samples)")]
srows = [dict(zip(scols, r)) for r in con.execute(
    "SELECT * FROM samples WHERE run_id = ? ORDER BY seq", (tmpl["id"],))]
rng = random.Random(7)
t0 = tmpl["started_unix_s"] - 86400 * 365
report = json.loads(tmpl["report"])
con.execute("BEGIN")
rows = []
for i in range(n):
    r = dict(tmpl)
    r["id"] = "%016x%02x" % (0x61b000000000000 + i, 0)
    r["project_name"] = "project-%d" % (i % 20)
    r["command"] = ["train", "eval", "compare", "sleep 60"][i % 4]
    r["labels"] = json.dumps({"team": "t%d" % (i % 50), "i": str(i)})
    r["started_unix_s"] = t0 + i * 300 + rng.random()
    r["energy_j"] = rng.uniform(1, 5e5)
    r["duration_s"] = rng.uniform(1, 3600)
    rep = dict(report, run_id=r["id"], energy_j=r["energy_j"], duration_s=r["duration_s"],
               labels=json.loads(r["labels"]), project_name=r["project_name"])
    r["report"] = json.dumps(rep)
    rows.append(tuple(r[c] for c in cols))
q = "INSERT INTO runs (%s) VALUES (%s)" % (",".join(cols), ",".join("?" * len(cols)))
con.executemany(q, rows)
# The long run: 10 samples a second for HOURS.
big = "%018x" % 0xb16
r = dict(tmpl, id=big, started_unix_s=t0 + n * 300, command="train --epochs 500",
         duration_s=hours * 3600)
r["report"] = json.dumps(dict(report, run_id=big, duration_s=hours * 3600))
con.execute(q, tuple(r[c] for c in cols))
count = int(hours * 3600 * 10)
src = srows[len(srows) // 2] if srows else None
sq = "INSERT INTO samples (%s) VALUES (%s)" % (",".join(scols), ",".join("?" * len(scols)))

def samples():
    for k in range(count):
        s = dict(src, run_id=big, seq=k, elapsed_s=k * 0.1, unix_s=r["started_unix_s"] + k * 0.1,
                 total_power_w=40 + 20 * ((k // 600) % 2) + rng.random())
        yield tuple(s[c] for c in scols)

con.executemany(sq, samples())
con.commit()
print(big)

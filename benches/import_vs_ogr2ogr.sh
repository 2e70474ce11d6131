#!/usr/bin/env bash
# Import throughput into PostGIS: `repere import` against `ogr2ogr -f
# PostgreSQL`, on the same generated GeoJSON file of 100,000 points and the
# same database.
#
#   eval "$(scripts/postgis start)"    # or any REPERE_TEST_DATABASE_URL
#   benches/import_vs_ogr2ogr.sh [FEATURES] [RUNS]
#
# Uses target/release/repere (built if missing). Prints one line per run and
# the median features/s of each tool. repère's time includes what ogr2ogr
# does not do: the GEOS validity check of every geometry, the diff against
# the active version and the version bookkeeping.
set -euo pipefail

features=${1:-100000}
runs=${2:-3}
url=${REPERE_TEST_DATABASE_URL:?set REPERE_TEST_DATABASE_URL, e.g. eval "\$(scripts/postgis start)"}
root=$(cd "$(dirname "$0")/.." && pwd)
repere=$root/target/release/repere
[[ -x $repere ]] || cargo build --release --bin repere --manifest-path "$root/Cargo.toml"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file=$work/points.geojson

# Points on a 0.0005° grid over Montréal, each with an id, a name and a
# number, like an asset layer.
python3 - "$features" "$file" <<'PY'
import sys
count, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as out:
    out.write('{"type":"FeatureCollection","features":[\n')
    for i in range(count):
        lon = -73.95 + (i % 800) * 0.0005
        lat = 45.40 + (i // 800) * 0.0005
        sep = ",\n" if i else ""
        out.write(f'{sep}{{"type":"Feature","properties":{{"code":"A{i}","label":"asset {i}",'
                  f'"height_m":{i % 17}}},"geometry":{{"type":"Point","coordinates":[{lon:.4f},{lat:.4f}]}}}}')
    out.write("\n]}\n")
PY

# ogr2ogr's PostgreSQL connection string from the URL postgres://USER@HOST:PORT/DB.
rest=${url#postgres://}
user=${rest%%@*}; rest=${rest#*@}
hostport=${rest%%/*}; db=${rest#*/}
pg="PG:host=${hostport%%:*} port=${hostport##*:} user=$user dbname=$db"

seconds() { python3 -c 'import sys,time; print(time.time())'; }
rate() { python3 -c "print(round($features / ($2 - $1)))"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

repere_rates=() ogr_rates=()
for run in $(seq 1 "$runs"); do
    layer=bench_import_$run
    start=$(seconds)
    "$repere" import "$file" --layer "$layer" --kind asset --id-field code \
        --name-field label --database-url "$url" > /dev/null 2>&1
    end=$(seconds)
    repere_rates+=("$(rate "$start" "$end")")

    start=$(seconds)
    ogr2ogr -f PostgreSQL "$pg" "$file" -nln "bench_ogr2ogr_$run" -overwrite \
        -lco GEOMETRY_NAME=geom
    end=$(seconds)
    ogr_rates+=("$(rate "$start" "$end")")
    echo "run $run: repere ${repere_rates[-1]} features/s, ogr2ogr ${ogr_rates[-1]} features/s"
    psql -q "$url" -c "DROP TABLE IF EXISTS bench_ogr2ogr_$run"
done
echo "median over $runs runs of $features features:" \
    "repere $(printf '%s\n' "${repere_rates[@]}" | median) features/s," \
    "ogr2ogr $(printf '%s\n' "${ogr_rates[@]}" | median) features/s"

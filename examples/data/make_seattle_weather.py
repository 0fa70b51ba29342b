#!/usr/bin/python3
"""Writes examples/data/seattle_weather.csv from Debian's python3-vega-datasets.

The source is vega_datasets/_data/seattle-weather.csv (daily weather in Seattle, 2012-2015,
from NOAA via the vega-datasets project, MIT licence) as the Debian package installs it. The
output is the same 1461 days in numbers only (tapegrad's CSV reader is numeric): the date
becomes two categorical columns, month (0-11) and year (0-3 for 2012-2015), and the weather
label an integer class:

    precipitation,temp_max,temp_min,wind,month,year,weather
    0.0,12.8,5.0,4.7,0,0,0

weather: 0 drizzle, 1 fog, 2 rain, 3 snow, 4 sun (alphabetical). Usage:
    /usr/bin/python3 examples/data/make_seattle_weather.py [source.csv] [out.csv]
"""
import csv
import sys

SOURCE = "/usr/lib/python3/dist-packages/vega_datasets/_data/seattle-weather.csv"
CLASSES = ["drizzle", "fog", "rain", "snow", "sun"]


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else SOURCE
    out = sys.argv[2] if len(sys.argv) > 2 else "examples/data/seattle_weather.csv"
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["precipitation", "temp_max", "temp_min", "wind", "month", "year", "weather"])
        for r in rows:
            year, month, _ = r["date"].replace("-", "/").split("/")
            w.writerow([r["precipitation"], r["temp_max"], r["temp_min"], r["wind"],
                        int(month) - 1, int(year) - 2012, CLASSES.index(r["weather"])])
    print(f"{out}: {len(rows)} days")


if __name__ == "__main__":
    main()

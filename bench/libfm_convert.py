#!/usr/bin/python3
"""libfm_convert.py — a train/test pair of ratings files, with MovieLens side files, as
libFM's block-structure input (Rendle 2013, "Scaling factorization machines to
relational data"), carrying the information `factorlens train --model fm --user-features
FILE --item-features FILE --implicit` uses and nothing more:

  user relation, one row per user:  the user id (group 0), age bucket (1), gender (2),
                                    occupation (3), first digit of the zip (4), and the
                                    items the user rated in TRAIN, each 1/sqrt(count) (5)
  item relation, one row per item:  the item id (group 0), genres, each 1/sqrt(genres of
                                    the item) (1), decade of release (2), and with
                                    --implicit-items the users who rated it in TRAIN, each
                                    1/sqrt(count) (3)

The encodings are factorlens's own (src/data/features.c: MovieLens 1M's age groups,
'x' for a zip that does not start with a digit, genres from u.item's flags or
movies.csv's list, the year from u.item's release date or the title's "(yyyy)").
Feature ids are dense (0..n-1 within each relation, in order of first appearance), as
libFM's MCMC wants them. No test rating informs anything but its own row's target.

Written into OUT: train.libfm and test.libfm (each line a target alone: every feature
comes through the relations), and for REL in rel_user, rel_item: REL.libfm (the
relation's rows, libFM's text format, to be made binary by libFM's convert and
transpose tools), REL.groups (group of each feature), REL.train and REL.test (the
relation row of each line of train.libfm / test.libfm). bench/accuracy.sh runs it.

Usage: libfm_convert.py --train FILE --test FILE [--users u.user] [--items u.item|movies.csv]
                        [--implicit] [--implicit-items] --out DIR
Ratings files: user, item, rating[, timestamp], tab- or comma-separated, with or without
a header line (u1.base, ratings.csv, the TSV files of bench's split helper).
Standard library only (python3 without third-party packages).
"""
import argparse
import csv
import math
import os
import re
import sys


def read_ratings(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t") if "\t" in line else line.split(",")
            if len(fields) < 3:
                sys.exit(f"{path}:{n}: expected user, item, rating")
            try:
                r = float(fields[2])
            except ValueError:
                if n == 1:
                    continue  # a header
                sys.exit(f"{path}:{n}: rating '{fields[2]}' is not a number")
            rows.append((fields[0].strip(), fields[1].strip(), r))
    return rows


def age_bucket(age):
    for limit, name in ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"),
                        (50, "45-49"), (56, "50-55")):
        if age < limit:
            return name
    return "56+"


def read_users(path):
    """u.user: id|age|gender|occupation|zip -> {id: [(group, feature name, value)]}."""
    users = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            p = line.rstrip("\r\n").split("|")
            if len(p) < 5:
                continue
            zip_ = p[4][:1] if p[4][:1].isdigit() else "x"
            users[p[0]] = [(1, "age=" + age_bucket(int(p[1])), 1.0), (2, "gender=" + p[2], 1.0),
                           (3, "occupation=" + p[3], 1.0), (4, "zip=" + zip_, 1.0)]
    return users


def item_features(genres, year):
    feats = [(1, "genre=" + g, 1.0 / math.sqrt(len(genres))) for g in genres]
    if year > 0:
        feats.append((2, "decade=%ds" % (year // 10 * 10), 1.0))
    return feats


def read_items(path):
    """u.item (pipe, Latin-1, 19 genre flags) or movies.csv (movieId,title,genres)."""
    items = {}
    with open(path, encoding="latin-1") as f:
        first = f.readline()
    if first.startswith("movieId,"):
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                genres = [g for g in row["genres"].split("|") if g and g != "(no genres listed)"]
                m = re.search(r"\((\d{4})\)\s*$", row["title"])
                items[row["movieId"]] = item_features(genres, int(m.group(1)) if m else 0)
        return items
    genre_names = []
    genre_file = os.path.join(os.path.dirname(path), "u.genre")
    if os.path.exists(genre_file):
        with open(genre_file, encoding="latin-1") as f:
            genre_names = [l.split("|")[0] for l in f if "|" in l]
    with open(path, encoding="latin-1") as f:
        for line in f:
            p = line.rstrip("\r\n").split("|")
            if len(p) < 24:
                continue
            flags = p[5:24]
            names = genre_names if len(genre_names) == 19 else [f"g{k}" for k in range(19)]
            genres = [names[k] for k in range(19) if flags[k] == "1"]
            m = re.search(r"(\d{4})$", p[2].strip())
            items[p[0]] = item_features(genres, int(m.group(1)) if m else 0)
    return items


class Relation:
    """One relation: rows by raw id, features by name, dense in order of first use."""

    def __init__(self, name):
        self.name, self.rows, self.row_of, self.feat, self.group = name, [], {}, {}, []

    def feature(self, group, name):
        if name not in self.feat:
            self.feat[name] = len(self.group)
            self.group.append(group)
        return self.feat[name]

    def row(self, key, entries):
        self.row_of[key] = len(self.rows)
        self.rows.append(entries)

    def write(self, out, train_keys, test_keys):
        base = os.path.join(out, self.name)
        with open(base + ".libfm", "w") as f:
            for entries in self.rows:
                # libFM's text rows: a target (unused for a relation), then id:value
                f.write("0 " + " ".join("%d:%.9g" % (j, v) for j, v in sorted(entries)) + "\n")
        with open(base + ".groups", "w") as f:
            f.write("".join("%d\n" % g for g in self.group))
        for part, keys in (("train", train_keys), ("test", test_keys)):
            with open(base + "." + part, "w") as f:
                f.write("".join("%d\n" % self.row_of[k] for k in keys))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--users", help="u.user")
    ap.add_argument("--items", help="u.item or movies.csv")
    ap.add_argument("--implicit", action="store_true",
                    help="each user's TRAIN items, 1/sqrt(count) each")
    ap.add_argument("--implicit-items", action="store_true",
                    help="each item's TRAIN raters, 1/sqrt(count) each")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    train, test = read_ratings(a.train), read_ratings(a.test)
    users = read_users(a.users) if a.users else {}
    items = read_items(a.items) if a.items else {}
    rated, raters = {}, {}
    for u, i, _ in train:
        rated.setdefault(u, []).append(i)
        raters.setdefault(i, []).append(u)
    os.makedirs(a.out, exist_ok=True)

    # Ids first (group 0), so the id features are 0..n-1 in order of first appearance.
    ru, ri = Relation("rel_user"), Relation("rel_item")
    for u, i, _ in train + test:
        ru.feature(0, "user=" + u)
        ri.feature(0, "item=" + i)
    implicit_group = 5
    for u, _, _ in train + test:
        if u in ru.row_of:
            continue
        e = [(ru.feature(0, "user=" + u), 1.0)]
        e += [(ru.feature(g, name), v) for g, name, v in users.get(u, [])]
        if a.implicit and rated.get(u):
            w = 1.0 / math.sqrt(len(rated[u]))
            e += [(ru.feature(implicit_group, "rated=" + i), w) for i in rated[u]]
        ru.row(u, e)
    for _, i, _ in train + test:
        if i in ri.row_of:
            continue
        e = [(ri.feature(0, "item=" + i), 1.0)]
        e += [(ri.feature(g, name), v) for g, name, v in items.get(i, [])]
        if a.implicit_items and raters.get(i):
            w = 1.0 / math.sqrt(len(raters[i]))
            e += [(ri.feature(3, "rater=" + u), w) for u in raters[i]]
        ri.row(i, e)
    # libFM numbers a relation's groups 0..G-1 with none empty: renumber the used ones.
    for rel in (ru, ri):
        used = sorted(set(rel.group))
        rel.group = [used.index(g) for g in rel.group]
    for rel, col in ((ru, 0), (ri, 1)):
        rel.write(a.out, [r[col] for r in train], [r[col] for r in test])
    for part, rows in (("train", train), ("test", test)):
        with open(os.path.join(a.out, part + ".libfm"), "w") as f:
            f.write("".join("%.9g\n" % r for _, _, r in rows))
    missing_u = sum(1 for u in ru.row_of if users and u not in users)
    missing_i = sum(1 for i in ri.row_of if items and i not in items)
    print(f"libfm_convert: {len(train)} train, {len(test)} test ratings; {len(ru.rows)} users "
          f"({len(ru.group)} features, {missing_u} without side features), {len(ri.rows)} items "
          f"({len(ri.group)} features, {missing_i} without side features)", file=sys.stderr)


if __name__ == "__main__":
    main()

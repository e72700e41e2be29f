"""Contact sheet of the built-in garments set, to look at it (rows of the real table, labelled).

    python scripts/garments_sheet.py --background studio --out artifacts/garments_studio.png
"""
from __future__ import annotations

import argparse

from PIL import Image, ImageDraw

from analysis.data import garments as G


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--background", default="studio", choices=G.BACKGROUNDS)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=40, help="first n rows of the 1000-row table")
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cols", type=int, default=8)
    args = ap.parse_args()
    table = G.garment_table(1000, random_state=args.seed).head(args.n)
    rows = -(-len(table) // args.cols)
    cell_h = args.size + 14
    sheet = Image.new("RGB", (args.cols * args.size, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, r in enumerate(table.itertuples(index=False)):
        img = G.render_garment(r.colour, r.pattern, r.garment, args.size, int(r.seed), background=args.background)
        x, y = (i % args.cols) * args.size, (i // args.cols) * cell_h
        sheet.paste(Image.fromarray(img), (x, y))
        draw.text((x + 2, y + args.size), f"{r.colour} {r.pattern}", fill="black")
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Print the fusion cost table: params, MACs/point, forward+backward ms and ratio to concat-mlp.

Examples:
    python packages/pgs-fusion/benchmarks/fusion_report.py
    python packages/pgs-fusion/benchmarks/fusion_report.py --sizes 10000 30000 100000 --repeats 9
    python packages/pgs-fusion/benchmarks/fusion_report.py --branches mouth --names mgf mgf:proj_dim=32 --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import torch

from pgs.core.registry import registry
from pgs.fusion.benchmark import BRANCHES, REFERENCE, format_table, measure


def main(argv: list[str] | None = None) -> int:
    """Measure and print; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--names",
        nargs="+",
        default=None,
        help="fusion modules or variants name:key=value,... (default: every registered one)",
    )
    parser.add_argument("--branches", nargs="+", default=list(BRANCHES), choices=list(BRANCHES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 30_000, 100_000], help="point counts N")
    parser.add_argument("--repeats", type=int, default=7, help="timed passes per module and N (median kept)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of the table")
    args = parser.parse_args(argv)
    names = args.names or registry("pgs.fusion").names()
    if REFERENCE not in names:
        names = [REFERENCE, *names]
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = measure(names, args.branches, args.sizes, repeats=args.repeats)
    if args.json:
        print(json.dumps([row.__dict__ for row in rows], indent=2))
        return 0
    print(
        f"torch {torch.__version__}, CPU {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads; per-frame audio [Da]; median of {args.repeats} fwd+bwd passes, "
        f"modules timed round-robin; ratios against {REFERENCE} in this run"
    )
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

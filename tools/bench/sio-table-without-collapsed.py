"""SIO-table verdicts without the trainers that have a collapsed model (ID accuracy below 50 %).

    python3 tools/bench/sio-table-without-collapsed.py <output_dir of the sio-table run>

Reads <output_dir>/bench_<benchmark>/latest/results.csv (written by `oodkit bench`) and prints, per
benchmark, how many (trainer, method) rows +SIO improves near- and far-OOD AUROC (means over seeds)
and the mean Δ, leaving out every trainer one of whose models (any variant, any seed) stayed below
50 % ID accuracy: their rows compare a failed training, not SIO.
"""
import collections
import csv
import os
import sys


def main(root):
    for bench in sorted(os.listdir(root)):
        folder = os.path.join(root, bench, 'latest')
        if not bench.startswith('bench_') or not os.path.exists(folder):
            continue
        accuracy, auroc = {}, collections.defaultdict(dict)
        for row in csv.DictReader(open(os.path.join(folder, 'results.csv'))):
            if row['dataset'] not in ('nearood', 'farood'):
                continue
            accuracy[(row['trainer'], row['variant'], row['seed'])] = float(row['ACC'])
            auroc[(row['trainer'], row['postprocessor'], row['dataset'])][(row['variant'], row['seed'])] = float(row['AUROC'])
        collapsed = sorted({t for (t, _, _), a in accuracy.items() if a < 50})
        print(f"{bench[6:]} ({os.path.basename(os.path.realpath(folder))}): left out {', '.join(collapsed) or 'none'}")
        for split, name in (('nearood', 'near'), ('farood', 'far')):
            deltas = []
            for (trainer, _, dataset), values in auroc.items():
                if dataset != split or trainer in collapsed:
                    continue
                base = [v for (variant, _), v in values.items() if variant == 'baseline']
                sio = [v for (variant, _), v in values.items() if variant == 'sio']
                if base and sio:
                    deltas.append(sum(sio) / len(sio) - sum(base) / len(base))
            better = sum(d > 0 for d in deltas)
            print(f'  {name} AUROC: +SIO better in {better} of {len(deltas)} rows, mean delta {sum(deltas) / len(deltas):+.2f}')


if __name__ == '__main__':
    main(sys.argv[1])

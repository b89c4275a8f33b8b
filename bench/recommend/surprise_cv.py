"""Surprise on greenai's folds: k-fold cross-validation of `SVD()` (or `SVDpp()`) with its
default parameters, the folds assigned by greenai's rule (`greenai_nn::recommend::data::fold_of`:
SplitMix64's first output for the seed `seed * 2**32 + i`, modulo k). Writes one JSON object
(to OUT, else stdout): the mean RMSE and MAE, each fold's, and the seconds spent fitting and
testing.
    python3 surprise_cv.py RATINGS.inter [svd|svdpp] [K=5] [SEED=0] [OUT]
"""
import json, sys, time

from surprise import SVD, SVDpp, Dataset, Reader, accuracy

M = (1 << 64) - 1


def splitmix_first(seed):
    z = (seed + 0x9E3779B97F4A7C15) & M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def main():
    path = sys.argv[1]
    model = sys.argv[2] if len(sys.argv) > 2 else "svd"
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    reader = Reader(line_format="user item rating timestamp", sep="\t", skip_lines=1,
                    rating_scale=(1, 5))
    data = Dataset.load_from_file(path, reader=reader)
    raw = data.raw_ratings
    fold = [splitmix_first(((seed << 32) + i) & M) % k for i in range(len(raw))]
    rmses, maes, fit_s = [], [], 0.0
    for f in range(k):
        train = data.construct_trainset([r for r, g in zip(raw, fold) if g != f])
        test = data.construct_testset([r for r, g in zip(raw, fold) if g == f])
        algo = SVD(random_state=0) if model == "svd" else SVDpp(random_state=0)
        t = time.perf_counter()
        algo.fit(train)
        preds = algo.test(test)
        fit_s += time.perf_counter() - t
        rmses.append(accuracy.rmse(preds, verbose=False))
        maes.append(accuracy.mae(preds, verbose=False))
    out = json.dumps({"model": model, "rmse": sum(rmses) / k, "mae": sum(maes) / k,
                      "fold_rmse": rmses, "fit_and_test_s": fit_s})
    if len(sys.argv) > 5:
        open(sys.argv[5], "w").write(out + "\n")
    else:
        print(out)


if __name__ == "__main__":
    main()

"""Notebook 04 runs each single model once, however many ensembles hold it."""

from types import SimpleNamespace

import numpy as np

from buslib.experiments.external import FoldEnsemble, ensemble_vs_folds, evaluate_external
from buslib.experiments.member_predictions import MemberPredictions


def counting(key: str, prob: list[float], calls: list[str]):
    def predict(images):
        calls.append(key)
        return np.array(prob)
    return SimpleNamespace(key=key, split=key, model_name=key[0], init="imagenet", threshold=0.5,
                           triage_threshold=0.3, predict=predict)


def test_a_model_in_several_ensembles_is_run_once_and_ensembles_match_their_own_predict():
    calls: list[str] = []
    a, b, c = (counting(k, p, calls) for k, p in (("a0", [0.9, 0.2, 0.6]), ("a1", [0.7, 0.4, 0.2]),
                                                  ("b0", [0.8, 0.1, 0.5])))
    first = FoldEnsemble("a_ens", "a", "imagenet", (a, b))
    both = FoldEnsemble("ab_ens", "a_and_b", "imagenet", (a, b, c))
    predictions = MemberPredictions(np.zeros((3, 4, 4)))
    labels = np.array([1, 0, 1])
    table, probabilities = evaluate_external([a, first, both], predictions, labels, n_resamples=20)
    by_member = ensemble_vs_folds([first, both], predictions, labels)
    assert sorted(calls) == ["a0", "a1", "b0"]                     # each once, for every table
    np.testing.assert_allclose(probabilities["ab_ens"], both.predict(np.zeros((3, 4, 4))))
    np.testing.assert_allclose(probabilities["a_ens"], [0.8, 0.3, 0.4])
    assert table["key"].tolist() == ["a0", "a_ens", "ab_ens"] and len(by_member) == 2 + 1 + 3 + 1

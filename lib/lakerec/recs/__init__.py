"""Recommendations (``lakerec train``, ``lakerec recommend``, ``lakerec evaluate``).

- :mod:`lakerec.recs.interactions`: events into confidences, business keys into ids;
- :mod:`lakerec.recs.splits`: hold-out split protocols;
- :mod:`lakerec.recs.metrics`: ranking metrics, coverage, novelty, diversity;
- :mod:`lakerec.recs.baselines`: popularity;
- :mod:`lakerec.recs.als`: ALS fit, search and scoring;
- :mod:`lakerec.recs.scoring`: blocked top-k scoring of factor models;
- :mod:`lakerec.recs.candidates`: content neighbours, fallbacks and the final lists;
- :mod:`lakerec.recs.promotion`: evidence and the champion / challenger decision;
- :mod:`lakerec.recs.train_step`, :mod:`lakerec.recs.recommend_step`,
  :mod:`lakerec.recs.evaluate_step`: the steps.
"""

"""Data quality: Great Expectations 1.x suites per layer, run on the Spark DataFrames.

- :mod:`lakerec.quality.expectations`: severities, expectation ids, one JSON-safe quantile check;
- :mod:`lakerec.quality.derive`: pure transforms adding the columns some checks look at;
- :mod:`lakerec.quality.history`: earlier results of ``ops.dq_results`` (volume, drift);
- :mod:`lakerec.quality.suites`: expectation suites per layer and table, from config;
- :mod:`lakerec.quality.targets`: which frames of a layer are validated with which suite;
- :mod:`lakerec.quality.validate`: runs GX checkpoints and turns results into rows;
- :mod:`lakerec.quality.docs`: the Data Docs site of a run.
"""

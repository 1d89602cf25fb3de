"""Customer features and KMeans segments (``lakerec features``, ``lakerec segment``).

- :mod:`lakerec.segments.features`: RFM and behaviour features as of the run date;
- :mod:`lakerec.segments.model`: the KMeans pipeline, choice of k, assignment;
- :mod:`lakerec.segments.profiles`: readable profiles and labels of segments;
- :mod:`lakerec.segments.plots`: PNG pictures of a segmentation run;
- :mod:`lakerec.segments.features_step`: the ``features`` step;
- :mod:`lakerec.segments.segment_step`: the ``segment`` step.
"""

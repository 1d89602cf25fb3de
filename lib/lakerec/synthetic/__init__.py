"""Synthetic landing data with planted structure (``lakerec generate``).

- :mod:`lakerec.synthetic.generator`: customers, items and events as Spark transforms;
- :mod:`lakerec.synthetic.generate_step`: the ``generate`` step.
"""

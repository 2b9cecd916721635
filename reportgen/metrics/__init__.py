"""Numbers the report is built from; plain functions of tensors and arrays (docs/metrics.md).

- :mod:`~reportgen.metrics.faithfulness`: Deletion/Insertion curves and AUC (RISE).
- :mod:`~reportgen.metrics.references`: random, centre-prior and Sobel reference maps.
- :mod:`~reportgen.metrics.stats`: bootstrap intervals, paired Wilcoxon tests, Holm correction.
- :mod:`~reportgen.metrics.agreement`: agreement between methods.
- :mod:`~reportgen.metrics.localisation`: centre mass, pointing game, mass in mask.
- :mod:`~reportgen.metrics.sanity`: cascading model-parameter randomisation.
"""

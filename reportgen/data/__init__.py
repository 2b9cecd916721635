"""PatchCamelyon data: the real HDF5 reader, the synthetic generator and seeded sampling.

- :mod:`reportgen.data.pcam`: ``open_pcam``, ``PCamDataset``, ``PCamSplit``,
  ``PatchBatch``, ``as_float_tensor``, ``ensure_demo_data``, ``inspect_data_dir``.
- :mod:`reportgen.data.synth`: ``write_synthetic_pcam`` and ``DEMO_SIZES``.
- :mod:`reportgen.data.sampling`: ``stratified_subset`` and ``select_cases``.
- :mod:`reportgen.data.preview`: the example picture of synthetic patches.

Submodules are imported on demand so that ``import reportgen.data`` stays cheap.
"""

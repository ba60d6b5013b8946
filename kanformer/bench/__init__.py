"""Measurement: KANLinear micro-benchmarks (:mod:`.layer`), whole-model benchmarks (:mod:`.model`) and what
kanify changes in a model (:mod:`.inspect`)."""

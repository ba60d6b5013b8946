"""Report-writing helpers shared by every report (compare, paper, tabular, bench, interpret): tables and
cell formats (:mod:`.tables`), markdown sections (:mod:`.markdown`) and plot primitives (:mod:`.plots`).

The reports themselves live with what they report on: :mod:`kanformer.report` (comparisons),
:mod:`kanformer.paper.report`, :mod:`kanformer.tabular.report`, :mod:`kanformer.bench`.
"""

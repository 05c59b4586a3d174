"""The operations of the public API, one module per topic: signatures (``signature``),
log-signatures (``logsignature``), Chen products and inverses (``tensor_algebra``), path
transforms (``transforms``), windows (``windows``), and the path options of ``signature()``
(``options``: basepoint, lengths, inverse, initial)."""

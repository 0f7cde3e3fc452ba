"""The applications built on the library, one per command of the CLI: forecasting (forecast, forecasting/),
classification (classify, classification/), text generation (textgen), gate inspection (inspection), the
long-time-lag experiments (experiments/), the classic units (classic) and the speed benchmark (bench); with the
job settings (config) and figures (plots) they share. The library never imports from here."""

"""Forecasting many series with one global model (`lstmkit forecast`): the panel of series and its sources
(panel.py), the scores and the baselines it is judged against (scores.py, baselines.py), the global recurrent
model (model.py) and the job that writes a run folder (job.py)."""

"""Data for lstmkit: loading CSV files and shipped data sets, windowing, splitting and scaling time series, and
padding variable-length sequences into a batch."""

from lstmkit.data import digits
from lstmkit.data.datasets import Series, list_datasets, load_csv, load_dataset
from lstmkit.data.padding import pad_sequences
from lstmkit.data.scalers import MinMaxScaler, StandardScaler, scaler_from_dict
from lstmkit.data.windows import chronological_split, sliding_windows

__all__ = ["Series", "load_csv", "list_datasets", "load_dataset", "sliding_windows", "chronological_split",
           "StandardScaler", "MinMaxScaler", "scaler_from_dict", "digits", "pad_sequences"]

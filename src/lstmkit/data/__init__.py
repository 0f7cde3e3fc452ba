"""Time-series data for lstmkit: loading CSV files and shipped data sets, windowing, splitting and scaling."""

from lstmkit.data import digits
from lstmkit.data.datasets import Series, list_datasets, load_csv, load_dataset
from lstmkit.data.scalers import MinMaxScaler, StandardScaler, scaler_from_dict
from lstmkit.data.windows import chronological_split, sliding_windows

__all__ = ["Series", "load_csv", "list_datasets", "load_dataset", "sliding_windows", "chronological_split",
           "StandardScaler", "MinMaxScaler", "scaler_from_dict", "digits"]

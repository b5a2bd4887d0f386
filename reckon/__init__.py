"""reckon's command line: the analyst's and the operator's way in."""

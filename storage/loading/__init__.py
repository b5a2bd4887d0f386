"""Reading input extracts, validating them against their contracts, quarantining what fails."""

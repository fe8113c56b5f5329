"""What people look at: figures, the validation report, the HTML report, comparisons, the data preview."""

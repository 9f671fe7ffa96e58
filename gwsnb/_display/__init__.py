"""HTML, SVG and CSV shared by the reprs of results and batches and by the forms."""

"""Privacy: erasure of customers on request and differentially private aggregate reports."""

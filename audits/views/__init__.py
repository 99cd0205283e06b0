"""The audit pages, one module per part of the engagement; ``audits.urls`` names them all."""

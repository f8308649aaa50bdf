"""Asset checks written in Python (the YAML tests of the SQL models are built in
:mod:`pipelines.assets.sql`)."""

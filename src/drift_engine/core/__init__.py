"""The Drift boundary: types, offline program access, market catalog, builder, margin.

Everything that speaks Drift's integer precisions or touches driftpy's types lives here;
layers above see `drift_engine.core.types` only.
"""

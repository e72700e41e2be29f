"""LayerScope analysis library: models, data, descriptors, cache and analyses (no Streamlit)."""

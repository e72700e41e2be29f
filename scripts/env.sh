# Sourced by run.sh / test.sh: tcmalloc when present (faster CPU inference), quiet Streamlit.
TCMALLOC=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -1 || true)
if [ -n "$TCMALLOC" ]; then export LD_PRELOAD="$TCMALLOC${LD_PRELOAD:+:$LD_PRELOAD}"; fi
export STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

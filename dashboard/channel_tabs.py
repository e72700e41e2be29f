"""The three tabs of the Channel explorer: CAM family with faithfulness, binary masks, activation
maximisation. Each draws one view of the image, block and channel chosen on the page
(`views/channels.py`); the computing is in `analysis.inspect`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.descriptors.store import Store
from analysis.errors import LayerScopeError
from analysis.inspect.cam import CAM_METHODS, CLASS_AGNOSTIC, cam_cost, compute_cam, overlay
from analysis.inspect.faithfulness import deletion_insertion
from analysis.inspect.featureviz.channel_images import AMSettings, is_cached
from analysis.inspect.masks import DEFAULT_LEVELS, activation_heat
from analysis.models.model import Model
from analysis.pictures import hstack_images
from dashboard.channel_shared import (
    FULL_STEPS,
    PREVIEW_STEPS,
    am_caption,
    am_table,
    am_units,
    cached_mask,
    mask_reference,
    png_button,
)
from dashboard.state import guard

FAITH_STEPS = 16      # deletion / insertion curve points (2 x 17 forward passes)
SCORECAM_ASK = 64     # ScoreCAM with more forward passes than this waits for a click


@dataclass
class Inspected:
    """What the page chose: the image (loaded, and as the model sees it), block and channel."""

    model: Model
    store: Store
    image: Any
    image_key: str
    disp: np.ndarray
    block: int
    channel: int
    top: pd.DataFrame
    top5: pd.DataFrame | None


@st.cache_data(max_entries=128, show_spinner=False)
def cam_and_faithfulness(store_key: str, image_key: str, block: int, method: str, target: int, _model, _image):
    r = compute_cam(_model, _image, block=block, method=method, target=target)
    return r, deletion_insertion(_model, _image, r.heatmap, r.target, steps=FAITH_STEPS)


@st.cache_data(max_entries=64, show_spinner=False)
def random_baseline(store_key: str, image_key: str, target: int, _model, _image, _shape):
    # An all-equal map: pixels are deleted / inserted in random order (seeded tie-break).
    return deletion_insertion(_model, _image, np.zeros(_shape, np.float32), target, steps=FAITH_STEPS)


def _set(key: str, value) -> None:
    st.session_state[key] = value


def cam_tab(tab_cam, x: Inspected) -> None:
    """CAM methods side by side, each with its deletion / insertion faithfulness."""
    model = x.model
    store = x.store
    image = x.image
    image_key = x.image_key
    disp = x.disp
    block = x.block
    top5 = x.top5
    n_blocks = len(x.model.blocks)
    if tab_cam.open is not False and top5 is None:
        tab_cam.info("Class activation maps explain a class prediction; this model has no classifier head.")
    elif tab_cam.open is not False:
        with tab_cam:
            k1, k2, k3 = st.columns([3, 2, 1.3])
            methods = k1.multiselect("Methods (side by side)", list(CAM_METHODS), default=["Grad-CAM", "EigenCAM"],
                                     key="cam_methods")
            names = {int(r.class_index): f"{r.name} · {r.probability:.0%}" + (" (predicted)" if r.rank == 1 else "")
                     for r in top5.itertuples()}
            target = k2.selectbox("Explain class", list(names), format_func=names.get,
                                  help="Target of the class-specific methods: the prediction, or another of the top 5.")
            opacity = k3.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="cam_opacity")
            if not methods:
                st.info("Pick at least one method.")
            cols = st.columns(max(1, len(methods)))
            shown, faith = [], {}
            for col, name in zip(cols, methods):
                with col:
                    if name == "CAM" and block != n_blocks:
                        st.info(f"Classic CAM exists only on the last block (block {n_blocks}), whose maps the "
                                "classifier pools. Grad-CAM is its generalisation to any block.")
                        continue
                    cost = cam_cost(model, block, name)
                    approved = st.session_state.setdefault("_scorecam_ok", set())
                    run_key = (image_key, block, target)
                    if name == "ScoreCAM" and cost["forward"] > SCORECAM_ASK and run_key not in approved:
                        st.warning(f"ScoreCAM runs {cost['forward']} forward passes here (one per channel).")
                        st.button("Run ScoreCAM", key=f"scorecam_{block}", on_click=approved.add, args=(run_key,))
                        continue
                    try:
                        with st.spinner(f"{name}…"):
                            r, f = cam_and_faithfulness(store.key, image_key, block, name, int(target), model, image)
                    except LayerScopeError as exc:
                        st.warning(str(exc))
                        continue
                    over = overlay(disp, r.heatmap, opacity)
                    shown.append(over)
                    faith[name] = f
                    what = "class-agnostic" if name in CLASS_AGNOSTIC else f"{r.target_name} ({r.probability:.0%})"
                    st.image(over, caption=f"{name} · block {r.block} ({r.layer}) · {what}", width="stretch")
                    st.markdown(f"**Faithfulness {f.score:+.2f}**")
                    st.caption(f"insertion AUC {f.insertion_auc:.2f} ↑ · deletion AUC {f.deletion_auc:.2f} ↓")
            if faith:
                with guard():
                    base = random_baseline(store.key, image_key, int(target), model, image, disp.shape[:2])
                rows = [{"method": m, "insertion_auc": f.insertion_auc, "deletion_auc": f.deletion_auc,
                         "faithfulness": f.score} for m, f in faith.items()]
                rows.append({"method": "random order (baseline)", "insertion_auc": base.insertion_auc,
                             "deletion_auc": base.deletion_auc, "faithfulness": base.score})
                table = pd.DataFrame(rows)
                fig = go.Figure()
                for i, (m, f) in enumerate(list(faith.items()) + [("random order", base)]):
                    colour = "#888" if m == "random order" else None
                    fig.add_scatter(x=f.fractions, y=f.insertion, name=f"{m} · insertion", mode="lines",
                                    line={"color": colour}, legendgroup=m)
                    fig.add_scatter(x=f.fractions, y=f.deletion, name=f"{m} · deletion", mode="lines",
                                    line={"dash": "dot", "color": colour}, legendgroup=m)
                fig.update_layout(height=300, margin={"t": 40, "b": 40}, title="Probability of the explained class as "
                                  "the most-highlighted pixels are inserted (solid) or deleted (dotted)",
                                  xaxis_title="share of pixels", yaxis_title="probability", title_font_size=13)
                st.plotly_chart(fig, width="stretch")
                st.markdown(f"**Random-order baseline: {base.score:+.2f}** (insertion AUC {base.insertion_auc:.2f}, "
                            f"deletion AUC {base.deletion_auc:.2f})")
                st.caption(
                    f"Faithfulness = insertion AUC − deletion AUC ({FAITH_STEPS} steps; Petsiuk et al. 2018): does "
                    "the map point at the pixels the prediction actually depends on? Compare with the random-order "
                    "baseline: a method that does not beat it clearly is not explaining this prediction, however "
                    "convincing the picture. Deep blocks give coarse maps; early blocks rarely score well. "
                    "Figure: PNG via the chart's camera button.")
                d1, d2 = st.columns(2)
                with d1:
                    st.download_button("Faithfulness table (CSV)", table.to_csv(index=False), "cam_faithfulness.csv",
                                       "text/csv", key="cam_csv")
                with d2:
                    png_button("CAMs side by side (PNG)", hstack_images([disp] + shown), "cams.png", "cam_png")


def mask_tab(tab_mask, x: Inspected) -> None:
    """Binary masks of the channel, and the channels that fire most for this image."""
    model = x.model
    store = x.store
    image = x.image
    image_key = x.image_key
    disp = x.disp
    block = x.block
    channel = x.channel
    top = x.top
    blk = x.model.block(x.block)
    if tab_mask.open:
        with tab_mask, guard():
            m1, m2 = st.columns([1.3, 2])
            how = m1.radio("Threshold", ["quantile", "absolute"], horizontal=True, key="mask_how",
                           format_func={"quantile": "top quantile of the dataset", "absolute": "absolute value"}.get)
            ref = mask_reference(model, store, block)
            if how == "quantile":
                q = m2.select_slider("Quantile of the channel's activations over the dataset", DEFAULT_LEVELS,
                                     value=0.9, key="mask_q",
                                     help=f"Computed once per block over {ref.n_images} dataset images "
                                          f"({ref.n_positions} positions per channel).")
                thr = ref.threshold(channel, q)
                rule = f"activation > {thr:.3g} (the {q:g} quantile of channel {channel} over the dataset)"
            else:
                thr = float(m2.number_input("Activation threshold", value=0.0, step=0.1, key="mask_abs",
                                            help="Positions whose activation exceeds this value uncover their field."))
                rule = f"activation > {thr:.3g}"
            rf = cached_mask(store.key, image_key, block, channel, thr, "receptive", model, image)
            up = cached_mask(store.key, image_key, block, channel, thr, "upsample", model, image)
            heat = overlay(disp, activation_heat(rf.activation, float(ref.maxima[channel])), 0.6, "magma")
            i1, i2, i3, i4 = st.columns(4)
            i1.image(disp, caption="input", width="stretch")
            i2.image(rf.image, caption=f"receptive fields · {rf.coverage:.0%} of the image", width="stretch")
            i3.image(up.image, caption=f"upsample + threshold · {up.coverage:.0%}", width="stretch")
            i4.image(heat, caption=f"channel {channel} map ({rf.activation.shape[0]}×{rf.activation.shape[1]}), "
                     f"scaled to the dataset max {ref.maxima[channel]:.2f}", width="stretch")
            st.caption(
                f"Block {block}, channel {channel}: {int(rf.active.sum())} of {rf.active.size} positions have {rule}; "
                f"each uncovers its receptive field ({blk.receptive_field} px square, stride {blk.stride}). "
                "Upsample mode: the map resized to the image, then thresholded (no geometry).")
            if blk.rf_global or blk.receptive_field >= disp.shape[0]:
                st.info(f"At block {block} one position already sees {blk.receptive_field} px — the whole "
                        f"{disp.shape[0]} px image — so any active position uncovers everything. The upsample mode "
                        "shows where the channel fires.")
            png_button("Masks side by side (PNG)", hstack_images([disp, rf.image, up.image, heat]),
                       f"masks_block{block}_ch{channel}.png", "mask_png")

            st.markdown(f"**Channels of block {block} that fire most for this image** (mean activation; click to "
                        "inspect one)")
            tcols = st.columns(4)
            for i, row in top.iterrows():
                c = int(row["channel"])
                t = ref.threshold(c, q) if how == "quantile" else thr
                m = cached_mask(store.key, image_key, block, c, t, "upsample", model, image)
                with tcols[i % 4]:
                    st.image(m.image, caption=f"ch {c} · mean {row['mean_activation']:.2f} · max "
                             f"{row['max_activation']:.2f}", width="stretch")
                    st.button(f"Inspect channel {c}", key=f"top_ch_{i}", on_click=_set, args=("ch_channel", c),
                              type="primary" if c == channel else "secondary", width="stretch")
            st.download_button("Top channels (CSV)", top.to_csv(index=False), f"top_channels_block{block}.csv",
                               "text/csv", key="top_csv")


def am_tab(tab_am, x: Inspected) -> None:
    """Activation maximisation of the channel (and a few more of the same block)."""
    model = x.model
    store = x.store
    block = x.block
    channel = x.channel
    blk = x.model.block(x.block)
    if tab_am.open:
        with tab_am, guard():
            if any(int(c) >= blk.channels for c in st.session_state.get("am_extra", [])):
                st.session_state["am_extra"] = [c for c in st.session_state["am_extra"] if int(c) < blk.channels]
            extra = st.multiselect(f"More channels of block {block} in the same batch", range(blk.channels),
                                   key="am_extra", max_selections=7,
                                   help="Rendered together in one batch; each channel's image is cached on disk.")
            chans = list(dict.fromkeys([channel] + [int(c) for c in extra]))
            with st.expander("Settings: parameterisation, transforms, regularizers, steps"):
                s1, s2, s3 = st.columns(3)
                param = s1.radio("Parameterisation", ["fft", "pixels"], key="am_param",
                                 format_func={"fft": "FFT + decorrelated colour", "pixels": "raw pixels"}.get,
                                 help="FFT: Lucent's 1/f spectrum with decorrelated colour (readable). Pixels: the "
                                      "naive baseline (noisy in deep blocks).")
                transforms = s1.toggle("Transforms (pad, jitter, scale, rotate)", True, key="am_transforms")
                s2.caption("Regularizer weights (penalties are pixel means; channel means reach ~5-35 on the "
                           "built-in model, so a weight must be of that order to matter: total variation 100 "
                           "smooths deep blocks).")
                l2 = s2.number_input("L2 decay (towards grey)", 0.0, 1000.0, 0.0, 1.0, key="am_l2")
                tv = s2.number_input("Total variation", 0.0, 1000.0, 0.0, 10.0, key="am_tv")
                blur = s2.number_input("Blur each step", 0.0, 1000.0, 0.0, 1.0, key="am_blur")
                pv = s3.number_input("Preview steps", 1, 256, PREVIEW_STEPS, key="am_preview_steps")
                full = s3.number_input("Full render steps", 16, 4096, FULL_STEPS, 16, key="am_full_steps")
                size = s3.select_slider("Image size (px)", [64, 96, 128, 160, 224], 128, key="am_size")
                lr = s3.number_input("Learning rate", 0.001, 1.0, 0.05, 0.01, format="%.3f", key="am_lr")
                seed = s3.number_input("Seed", 0, 10_000, 0, key="am_seed")
            base = AMSettings(param=param, transforms=transforms, l2=l2, tv=tv, blur=blur, image_size=int(size),
                                 lr=float(lr), random_state=int(seed))
            full_s = AMSettings(**{**base.__dict__, "steps": int(full)})
            prev_s = AMSettings(**{**base.__dict__, "steps": int(pv)})
            have_full = is_cached(model, block, chans, full_s)
            if not have_full and st.button(f"Full render ({int(full)} steps)", type="primary", key="am_full"):
                am_units(model, block, chans, full_s, "Full render")
                have_full = True
            settings = full_s if have_full else prev_s
            units = am_units(model, block, chans, settings, "Preview")
            table = am_table(store, block, units)
            st.markdown(f"**{'Full render' if have_full else 'Preview'}: {settings.steps} steps** · "
                        f"{'FFT + decorrelated colour' if param == 'fft' else 'raw pixels'}, "
                        f"transforms {'on' if transforms else 'off'}")
            acols = st.columns(4)  # fixed width: a 128 px render is not blown up to the page width
            for i, (u, (_, row)) in enumerate(zip(units, table.iterrows())):
                acols[i % len(acols)].image(u.image, caption=am_caption(row), width="stretch")
            fig = go.Figure()
            for u in units:
                fig.add_scatter(y=u.history, name=f"ch {u.channel}", mode="lines")
            for _, row in table.iterrows():
                fig.add_hline(y=row["dataset_max"], line_dash="dot", opacity=0.5,
                              annotation_text=f"dataset max ch {int(row['channel'])}")
            fig.update_layout(height=260, margin={"t": 40, "b": 40}, xaxis_title="step",
                              yaxis_title="mean activation", title="Objective during the render (transformed input)",
                              title_font_size=13)
            st.plotly_chart(fig, width="stretch")
            st.dataframe(table.round({"activation": 3, "dataset_max": 3, "ratio": 2, "percentile": 1}), hide_index=True,
                         width="stretch")
            st.caption("activation: the channel's mean activation (= its descriptor) on the synthetic image; "
                       "dataset_max: the largest descriptor value over the dataset; ratio > 1 means the synthetic "
                       "image drives the channel beyond any real image; percentile: share of dataset images below.")
            d1, d2 = st.columns(2)
            with d1:
                st.download_button("Activations (CSV)", table.to_csv(index=False), f"am_block{block}.csv", "text/csv",
                                   key="am_csv")
            with d2:
                png_button("Images side by side (PNG)", hstack_images([u.image for u in units]),
                           f"am_block{block}.png", "am_png")

//! A small SVG chart: one panel per measure, each a line over the same x values, drawn
//! with nothing but text (no plotting dependency).

use std::fmt::Write;

/// One measure to draw: its title and a value per x.
#[derive(Debug, Clone)]
pub struct Series {
    /// Shown above the panel.
    pub title: String,
    /// One value per x.
    pub values: Vec<f64>,
}

const PANEL_W: f64 = 360.0;
const PANEL_H: f64 = 220.0;
const PAD: f64 = 50.0;

/// An SVG with one panel per series, side by side, over `xs` (labelled `x_label`).
pub fn svg(xs: &[f64], x_label: &str, series: &[Series]) -> String {
    let width = (PANEL_W + PAD) * series.len() as f64 + PAD;
    let height = PANEL_H + 2.0 * PAD;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let x_max = xs.iter().copied().fold(0.0, f64::max).max(1.0);
    for (i, s) in series.iter().enumerate() {
        let left = PAD + i as f64 * (PANEL_W + PAD);
        let top = PAD;
        let y_max = s.values.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.1;
        let px = |x: f64| left + x / x_max * PANEL_W;
        let py = |y: f64| top + PANEL_H - y / y_max * PANEL_H;
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
            left + PANEL_W / 2.0,
            top - 15.0,
            escape(&s.title)
        );
        let _ = writeln!(
            out,
            r#"<path d="M{left} {top} V{} H{}" fill="none" stroke="black"/>"#,
            top + PANEL_H,
            left + PANEL_W
        );
        for k in 0..=4 {
            let y = y_max * f64::from(k) / 4.0;
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                left - 5.0,
                py(y) + 4.0,
                short(y)
            );
        }
        for &x in xs {
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
                px(x),
                top + PANEL_H + 16.0,
                short(x)
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            left + PANEL_W / 2.0,
            top + PANEL_H + 34.0,
            escape(x_label)
        );
        let points: Vec<String> = xs
            .iter()
            .zip(&s.values)
            .map(|(&x, &y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="steelblue" stroke-width="2"/>"#,
            points.join(" ")
        );
        for p in &points {
            if let Some((x, y)) = p.split_once(',') {
                let _ = writeln!(out, r#"<circle cx="{x}" cy="{y}" r="3" fill="steelblue"/>"#);
            }
        }
    }
    out.push_str("</svg>\n");
    out
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_panel_per_series_with_a_point_per_x() {
        let out = svg(
            &[100.0, 300.0, 1000.0],
            "nodes",
            &[
                Series {
                    title: "bytes <per> node".into(),
                    values: vec![1.0, 2.0, 3.0],
                },
                Series {
                    title: "ms".into(),
                    values: vec![5.0, 5.0, 6.0],
                },
            ],
        );
        assert!(out.starts_with("<svg"));
        assert!(out.trim_end().ends_with("</svg>"));
        assert_eq!(out.matches("<polyline").count(), 2);
        assert_eq!(out.matches("<circle").count(), 6);
        assert!(out.contains("bytes &lt;per&gt; node"));
    }
}

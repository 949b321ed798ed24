//! The report's SVG plots, drawn with `plotters` (its SVG backend, text as
//! SVG `<text>`, so no fonts are needed and the files are the same on every
//! machine): test score against budget per method, one plot per model and
//! task; and mean search time per method.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use bipeft_core::experiment::{Group, MethodTime};
use plotters::prelude::*;

use bipeft_core::train::atomic::write_atomic;

const SIZE: (u32, u32) = (760, 480);

fn plot_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing a plot failed: {e}")
}

/// `22700` → `22.7k`.
fn short_count(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.3}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// One plot per model × task of `groups`: mean test score (× 100) against
/// the budget in parameters, a line per method, bars of ± one
/// standard deviation. Returns the files written.
pub fn score_vs_budget(groups: &[Group], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for g in groups {
        if !keys.contains(&(&g.model, &g.task)) {
            keys.push((&g.model, &g.task));
        }
    }
    let mut written = Vec::new();
    for (model, task) in keys {
        let rows: Vec<&Group> = groups
            .iter()
            .filter(|g| g.model == model && g.task == task)
            .collect();
        let svg = draw_score_vs_budget(model, task, &rows)?;
        let path = dir.join(format!("score_vs_budget_{model}_{task}.svg"));
        write_atomic(&path, svg.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

fn draw_score_vs_budget(model: &str, task: &str, rows: &[&Group]) -> anyhow::Result<String> {
    let xs = rows.iter().map(|g| g.budget_params.max(1) as f64);
    let x_max = xs.fold(1.0f64, f64::max);
    let lows = rows.iter().map(|g| 100.0 * (g.score.mean - g.score.std));
    let highs = rows.iter().map(|g| 100.0 * (g.score.mean + g.score.std));
    let y_min = lows.fold(f64::INFINITY, f64::min);
    let y_max = highs.fold(f64::NEG_INFINITY, f64::max);
    let pad = ((y_max - y_min) * 0.1).max(1.0);
    let mut methods = Vec::new();
    for g in rows {
        if !methods.contains(&g.method) {
            methods.push(g.method);
        }
    }

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{model} · {task}: test {} vs budget", rows[0].metric),
                ("sans-serif", 20),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..(x_max * 1.15), (y_min - pad)..(y_max + pad))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("budget (trainable parameters)")
            .y_desc(format!("{} × 100", rows[0].metric))
            .x_label_formatter(&|x| short_count(*x))
            .draw()
            .map_err(plot_error)?;
        for (i, &method) in methods.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let mut points: Vec<(f64, &Group)> = rows
                .iter()
                .filter(|g| g.method == method)
                .map(|g| (g.budget_params.max(1) as f64, *g))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|(x, g)| (*x, 100.0 * g.score.mean)),
                    color.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(method.name())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|(x, g)| Circle::new((*x, 100.0 * g.score.mean), 4, color.filled())),
                )
                .map_err(plot_error)?;
            chart
                .draw_series(points.iter().map(|(x, g)| {
                    ErrorBar::new_vertical(
                        *x,
                        100.0 * (g.score.mean - g.score.std),
                        100.0 * g.score.mean,
                        100.0 * (g.score.mean + g.score.std),
                        color.stroke_width(1),
                        8,
                    )
                }))
                .map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// `n` bar slots: plotters' integer ranges include their end, so `0..n`
/// would draw an empty slot after the last bar.
fn segments(
    n: usize,
) -> plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordusize> {
    (0..n.saturating_sub(1)).into_segmented()
}

/// A bar per method: mean search seconds over its cells.
pub fn search_time(times: &[MethodTime], path: &Path) -> anyhow::Result<()> {
    if times.is_empty() {
        return Ok(());
    }
    let y_max = times
        .iter()
        .map(|t| t.search_seconds.mean + t.search_seconds.std)
        .fold(1.0f64, f64::max)
        * 1.15;
    let n = times.len();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "search time per method (mean over cells)",
                ("sans-serif", 20),
            )
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(56)
            .build_cartesian_2d(segments(n), 0.0..y_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => times
                    .get(*i)
                    .map_or(String::new(), |t| t.method.name().to_string()),
                _ => String::new(),
            })
            .y_desc("seconds")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(times.iter().enumerate().map(|(i, t)| {
                let color = Palette99::pick(i).to_rgba();
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), t.search_seconds.mean),
                    ],
                    color.filled(),
                );
                bar.set_margin(0, 0, 12, 12);
                bar
            }))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(write_atomic(path, svg.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bipeft_core::experiment::{Budget, Method, Stat};

    fn group(method: Method, budget: Budget, params: u64, score: f64) -> Group {
        let stat = |mean| Stat { mean, std: 0.01 };
        Group {
            model: "tiny".into(),
            task: "sst2".into(),
            budget,
            budget_params: params,
            method,
            metric: "accuracy".into(),
            seeds: vec![1, 2],
            score: stat(score),
            trainable_params: stat(params as f64),
            search_seconds: stat(10.0),
            retrain_seconds: stat(20.0),
        }
    }

    #[test]
    fn draws_svg_files_with_the_methods() {
        let dir = std::env::temp_dir().join(format!("bipeft-plots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let groups = vec![
            group(Method::Bipeft, Budget::Percent(0.1), 22_700, 0.8),
            group(Method::Bipeft, Budget::Percent(1.0), 227_000, 0.85),
            group(Method::Bitfit, Budget::Percent(0.1), 22_700, 0.7),
            group(Method::Bitfit, Budget::Percent(1.0), 227_000, 0.72),
        ];
        let files = score_vs_budget(&groups, &dir).unwrap();
        assert_eq!(files, vec![dir.join("score_vs_budget_tiny_sst2.svg")]);
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        assert!(svg.contains("bipeft") && svg.contains("bitfit"));
        assert!(svg.contains("<polyline") || svg.contains("<path"));

        let times = vec![
            MethodTime {
                method: Method::Bipeft,
                search_seconds: Stat {
                    mean: 60.0,
                    std: 5.0,
                },
            },
            MethodTime {
                method: Method::UniformLora,
                search_seconds: Stat {
                    mean: 0.4,
                    std: 0.0,
                },
            },
        ];
        let path = dir.join("search_time.svg");
        search_time(&times, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("uniform_lora") && svg.contains("<rect"));
        // One method, one budget: still a plot.
        search_time(&times[..1], &path).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("bipeft"));
        score_vs_budget(&groups[..1], &dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn short_counts() {
        assert_eq!(short_count(22_700.0), "22.7k");
        assert_eq!(short_count(950.0), "950");
        assert_eq!(short_count(2_270_000.0), "2.270M");
    }
}

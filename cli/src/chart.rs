//! The `--chart` SVG: the downstream's failure rate, admitted vs rejected calls, and the
//! breaker's states over time, drawn with plotters' SVG backend.

use std::path::Path;

use fusebox::State;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::sim::{Bucket, Run, Simulation, state_bands};

const WIDTH: u32 = 1000;
const FONT: &str = "sans-serif";

/// An axis label in seconds: `20s`.
fn seconds(v: &f64) -> String {
    format!("{v:.0}s")
}

/// The colour of a state band.
fn state_color(s: State) -> RGBColor {
    match s {
        State::Closed => RGBColor(76, 175, 80),
        State::Open => RGBColor(229, 57, 53),
        State::HalfOpen => RGBColor(255, 167, 38),
        State::Recovering => RGBColor(66, 165, 245),
        State::ForcedOpen => RGBColor(123, 31, 162),
        State::Disabled => RGBColor(158, 158, 158),
        State::MetricsOnly => RGBColor(120, 144, 156),
    }
}

const ADMITTED: RGBColor = RGBColor(129, 199, 132);
const ADMITTED_LINE: RGBColor = RGBColor(56, 142, 60);
const REJECTED: RGBColor = RGBColor(239, 154, 154);
const REJECTED_LINE: RGBColor = RGBColor(211, 47, 47);
const DOWNSTREAM: RGBColor = RGBColor(33, 33, 33);
const FAILED: RGBColor = RGBColor(255, 143, 0);

/// Writes the chart of `sim` to `path` as SVG.
///
/// # Errors
///
/// A one-line reason if the file cannot be written.
///
/// # Examples
///
/// ```
/// use fusebox_cli::{chart, scenario::Scenario, sim::simulate};
/// let s = Scenario::builtin();
/// let sim = simulate(&s, &[("policy".into(), s.policy.clone())]).unwrap();
/// let path = std::env::temp_dir().join("fusebox-doc-chart.svg");
/// chart::write(&sim, &path).unwrap();
/// assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
/// ```
pub fn write(sim: &Simulation, path: &Path) -> Result<(), String> {
    let svg = render(sim)?;
    std::fs::write(path, svg).map_err(|e| {
        format!(
            "{}: cannot write the chart: {}",
            path.display(),
            crate::scenario::io_reason(&e)
        )
    })
}

/// The chart of `sim` as an SVG document.
///
/// # Errors
///
/// If plotters fails to lay the chart out.
pub fn render(sim: &Simulation) -> Result<String, String> {
    let bands_h = 40 + 34 * sim.runs.len() as u32;
    let height = 60 + 230 + 270 + bands_h + 40;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw(sim, &root).map_err(|e| format!("cannot draw the chart: {e}"))?;
        root.present()
            .map_err(|e| format!("cannot draw the chart: {e}"))?;
    }
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(sim: &Simulation, root: &Area<'_>) -> DrawResult {
    root.fill(&WHITE)?;
    let s = &sim.scenario;
    let title = match &s.description {
        Some(d) => format!("{}: {d} (seed {})", s.name, s.seed),
        None => format!("{} (seed {})", s.name, s.seed),
    };
    let root = root.titled(&title, (FONT, 20))?;
    let (top, rest) = root.split_vertically(230);
    let (middle, bottom) = rest.split_vertically(270);
    let duration = s.load.duration.as_secs_f64();
    let width = sim.bucket.as_secs_f64();
    let primary = sim.runs.first().unwrap_or(&sim.baseline);

    // 1. The downstream's failure rate, and the share of admitted calls that failed.
    let mut chart = ChartBuilder::on(&top)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .caption(
            "downstream failure rate: share of calls it would fail if sent",
            (FONT, 15),
        )
        .x_label_area_size(24)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..duration, 0f64..105f64)?;
    chart
        .configure_mesh()
        .label_style((FONT, 12))
        .y_desc("%")
        .x_label_formatter(&seconds)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    let rate = |n: u64, of: u64| (of > 0).then(|| n as f64 * 100.0 / of as f64);
    let points = |run: &Run, f: &dyn Fn(&Bucket) -> Option<f64>| -> Vec<(f64, f64)> {
        run.buckets
            .iter()
            .enumerate()
            .filter_map(|(i, b)| f(b).map(|v| ((i as f64 + 0.5) * width, v)))
            .collect()
    };
    chart
        .draw_series(LineSeries::new(
            points(&sim.baseline, &|b| rate(b.doomed, b.arrivals)),
            DOWNSTREAM.stroke_width(2),
        ))?
        .label("downstream")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], DOWNSTREAM.stroke_width(2)));
    if primary.policy.is_some() {
        // Broken where no admitted call finished: a line across the gap would invent data.
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, b) in primary.buckets.iter().enumerate() {
            match rate(b.failed, b.finished) {
                Some(v) => segments
                    .last_mut()
                    .map_or((), |seg| seg.push(((i as f64 + 0.5) * width, v))),
                None => segments.push(Vec::new()),
            }
        }
        let mut first = true;
        for seg in segments.into_iter().filter(|s| !s.is_empty()) {
            let series = chart.draw_series(LineSeries::new(seg, FAILED.stroke_width(2)))?;
            if first {
                series
                    .label(format!("admitted calls that failed ({})", primary.label))
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], FAILED.stroke_width(2))
                    });
                first = false;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()?;

    // 2. Admitted and rejected calls per second, stacked.
    let per_sec = |n: u64| n as f64 / width;
    let peak = primary
        .buckets
        .iter()
        .map(|b| per_sec(b.admitted + b.rejected))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&middle)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .caption(
            format!("calls per second through the breaker ({})", primary.label),
            (FONT, 15),
        )
        .x_label_area_size(24)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..duration, 0f64..peak * 1.3)?;
    chart
        .configure_mesh()
        .label_style((FONT, 12))
        .y_desc("calls/s")
        .x_label_formatter(&seconds)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    let steps = |f: &dyn Fn(&Bucket) -> f64| -> Vec<(f64, f64)> {
        let mut v = Vec::with_capacity(primary.buckets.len() * 2);
        for (i, b) in primary.buckets.iter().enumerate() {
            let x0 = i as f64 * width;
            let x1 = ((i + 1) as f64 * width).min(duration);
            v.push((x0, f(b)));
            v.push((x1, f(b)));
        }
        v
    };
    chart
        .draw_series(
            AreaSeries::new(steps(&|b| per_sec(b.admitted + b.rejected)), 0.0, REJECTED)
                .border_style(REJECTED_LINE),
        )?
        .label("rejected")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], REJECTED.filled()));
    chart
        .draw_series(
            AreaSeries::new(steps(&|b| per_sec(b.admitted)), 0.0, ADMITTED)
                .border_style(ADMITTED_LINE),
        )?
        .label("admitted")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], ADMITTED.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()?;

    // 3. State bands, one row per policy.
    let (bands, legend) = bottom.split_vertically(bottom.dim_in_pixel().1.saturating_sub(40));
    let rows = sim.runs.len().max(1);
    let labels: Vec<String> = sim.runs.iter().map(|r| r.label.clone()).collect();
    let mut chart = ChartBuilder::on(&bands)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .caption("breaker state", (FONT, 15))
        .x_label_area_size(24)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..duration, 0f64..rows as f64)?;
    chart
        .configure_mesh()
        .label_style((FONT, 12))
        .disable_y_mesh()
        .disable_x_mesh()
        .y_labels(0)
        .x_label_formatter(&seconds)
        .draw()?;
    for (i, run) in sim.runs.iter().enumerate() {
        let y0 = (rows - 1 - i) as f64 + 0.15;
        let y1 = y0 + 0.7;
        chart.draw_series(
            state_bands(&run.transitions, s.load.duration)
                .into_iter()
                .map(|(a, b, st)| {
                    Rectangle::new(
                        [(a.as_secs_f64(), y0), (b.as_secs_f64(), y1)],
                        state_color(st).filled(),
                    )
                }),
        )?;
        if rows > 1 {
            chart.draw_series(std::iter::once(Text::new(
                labels[i].clone(),
                (duration * 0.005, y1 - 0.12),
                (FONT, 12).into_font().color(&WHITE),
            )))?;
        }
    }
    let mut x = 60;
    for st in crate::sim::STATES {
        let used = sim
            .runs
            .iter()
            .any(|r| st == State::Closed || r.transitions.iter().any(|t| t.to == st));
        if !used {
            continue;
        }
        legend.draw(&Rectangle::new(
            [(x, 8), (x + 14, 22)],
            state_color(st).filled(),
        ))?;
        let name = st.to_string();
        legend.draw(&Text::new(name.clone(), (x + 20, 9), (FONT, 13)))?;
        x += 40 + 8 * name.len() as i32;
    }
    Ok(())
}

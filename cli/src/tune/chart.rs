//! The `fusebox tune` chart: every candidate by failed calls and healthy calls rejected, the
//! Pareto front as a line, the starting and recommended policies marked.

use std::path::Path;

use plotters::prelude::*;

use super::Tuning;

const FONT: &str = "sans-serif";
const CANDIDATE: RGBColor = RGBColor(176, 190, 197);
const FRONT: RGBColor = RGBColor(25, 118, 210);
const START: RGBColor = RGBColor(229, 57, 53);
const BEST: RGBColor = RGBColor(56, 142, 60);

/// Writes the chart of `t` to `path` as SVG.
///
/// # Errors
///
/// A one-line reason if it cannot be drawn or written.
///
/// ```
/// use fusebox_cli::{scenario::Scenario, tune::{tune, chart, Objective, TuneOptions}};
/// let t = tune(&Scenario::builtin(), TuneOptions { budget: 4, seed: 1, objective: Objective::Time })?;
/// let path = std::env::temp_dir().join("fusebox-doc-tune.svg");
/// chart::write(&t, &path)?;
/// assert!(std::fs::read_to_string(&path).unwrap().contains("Pareto front"));
/// # Ok::<(), String>(())
/// ```
pub fn write(t: &Tuning, path: &Path) -> Result<(), String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 600)).into_drawing_area();
        draw(t, &root).map_err(|e| format!("cannot draw the chart: {e}"))?;
        root.present()
            .map_err(|e| format!("cannot draw the chart: {e}"))?;
    }
    std::fs::write(path, svg).map_err(|e| {
        format!(
            "{}: cannot write the chart: {}",
            path.display(),
            crate::scenario::io_reason(&e)
        )
    })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw(t: &Tuning, root: &Area<'_>) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let point = |i: usize| {
        let s = &t.candidates[i].score;
        (s.failed as f64, s.healthy_rejected as f64)
    };
    let all: Vec<(f64, f64)> = (0..t.candidates.len()).map(point).collect();
    let max_x = all.iter().map(|p| p.0).fold(1.0, f64::max) * 1.05;
    let max_y = all.iter().map(|p| p.1).fold(1.0, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{}: Pareto front of {} policies (lower left is better)",
                t.scenario.name,
                t.candidates.len()
            ),
            (FONT, 18),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..max_x, 0f64..max_y)?;
    chart
        .configure_mesh()
        .label_style((FONT, 12))
        .x_desc("failed calls sent to the downstream")
        .y_desc("healthy calls rejected")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    chart
        .draw_series(all.iter().map(|&p| Circle::new(p, 3, CANDIDATE.filled())))?
        .label("candidate")
        .legend(|(x, y)| Circle::new((x + 9, y), 3, CANDIDATE.filled()));
    let front: Vec<(f64, f64)> = t.front.iter().map(|&i| point(i)).collect();
    chart
        .draw_series(LineSeries::new(front.clone(), FRONT.stroke_width(2)))?
        .label("Pareto front")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], FRONT.stroke_width(2)));
    chart.draw_series(front.iter().map(|&p| Circle::new(p, 4, FRONT.filled())))?;
    chart
        .draw_series([Cross::new(point(0), 8, START.stroke_width(3))])?
        .label("starting policy")
        .legend(|(x, y)| Cross::new((x + 9, y), 5, START.stroke_width(2)));
    chart
        .draw_series([TriangleMarker::new(point(t.recommended), 9, BEST.filled())])?
        .label("recommended")
        .legend(|(x, y)| TriangleMarker::new((x + 9, y), 6, BEST.filled()));
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

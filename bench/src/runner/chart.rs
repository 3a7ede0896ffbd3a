//! The SVG chart of one suite: grouped bars (one colour per allocator) of median wall time
//! and median peak RSS per workload, each relative to the system allocator.

use std::path::Path;

use plotters::prelude::*;

use super::report::Summary;

/// Pixels on the right of each panel for the legend.
const LEGEND_WIDTH: u32 = 150;

/// Bars taller than this (times the baseline) are cut and labelled with their value.
const CAP: f64 = 3.0;

fn colour(alloc: &str) -> RGBColor {
    match alloc {
        "hakmem" => RGBColor(0xd6, 0x27, 0x28),
        "hakmem-header" => RGBColor(0xff, 0x7f, 0x0e),
        "system" => RGBColor(0x7f, 0x7f, 0x7f),
        "mimalloc" => RGBColor(0x1f, 0x77, 0xb4),
        "jemalloc" => RGBColor(0x2c, 0xa0, 0x2c),
        "snmalloc" => RGBColor(0x94, 0x67, 0xbd),
        _ => RGBColor(0x8c, 0x56, 0x4b),
    }
}

/// `values[w][a]`: allocator a's value on workload w relative to the baseline (None: no data).
type Grid = Vec<Vec<Option<f64>>>;

fn grid(
    sums: &[&Summary],
    workloads: &[String],
    allocs: &[String],
    baseline: &str,
    pick: fn(&Summary) -> Option<f64>,
) -> Grid {
    workloads
        .iter()
        .map(|w| {
            let get = |a: &str| {
                sums.iter()
                    .find(|s| &s.workload == w && s.alloc == a)
                    .and_then(|s| pick(s))
            };
            let base = get(baseline).filter(|b| *b > 0.0);
            allocs.iter().map(|a| Some(get(a)? / base?)).collect()
        })
        .collect()
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    workloads: &[String],
    allocs: &[String],
    values: &Grid,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    // Each workload is a group of 2·(allocs + 1) units: a one-unit gap, two units per bar,
    // a one-unit gap; integer coordinates keep the group's centre on a tick for its label.
    let unit = 2 * (allocs.len() as i32 + 1);
    let top = values
        .iter()
        .flatten()
        .flatten()
        .fold(1.0f64, |m, &v| m.max(v))
        .min(CAP)
        * 1.12;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .margin_right(LEGEND_WIDTH)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0..unit * workloads.len() as i32, 0f64..top)
        .map_err(e)?;
    let names = workloads.to_vec();
    let centre = allocs.len() as i32 + 1;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels((unit * workloads.len() as i32) as usize + 1)
        .x_label_formatter(&move |x| {
            if x % unit == centre {
                names.get((x / unit) as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .set_tick_mark_size(LabelAreaPosition::Bottom, 0)
        .y_desc("relative to system (lower is better)")
        .y_label_formatter(&|y| format!("{y:.1}"))
        .x_label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    for (a, alloc) in allocs.iter().enumerate() {
        let c = colour(alloc);
        let bars = values.iter().enumerate().filter_map(|(w, row)| {
            let v = row[a]?;
            let x0 = w as i32 * unit + 1 + 2 * a as i32;
            Some(Rectangle::new(
                [(x0, 0.0), (x0 + 2, v.min(CAP))],
                c.filled(),
            ))
        });
        chart.draw_series(bars).map_err(e)?;
        let cut = values.iter().enumerate().filter_map(|(w, row)| {
            let v = row[a].filter(|v| *v > CAP)?;
            let x0 = w as i32 * unit + 1 + 2 * a as i32;
            Some(Text::new(
                format!("{v:.1}"),
                (x0, CAP * 1.07),
                ("sans-serif", 11).into_font(),
            ))
        });
        chart.draw_series(cut).map_err(e)?;
    }
    // The baseline.
    chart
        .draw_series(LineSeries::new(
            [(0, 1.0), (unit * workloads.len() as i32, 1.0)],
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(e)?;
    // The legend sits in the right margin, outside the bars (drawn on the panel itself: the
    // chart's own series labels are clipped to the plotting area).
    let (width, _) = area.dim_in_pixel();
    let x = width as i32 - LEGEND_WIDTH as i32 + 8;
    for (i, alloc) in allocs.iter().enumerate() {
        let y = 48 + 20 * i as i32;
        area.draw(&Rectangle::new(
            [(x, y), (x + 14, y + 12)],
            colour(alloc).filled(),
        ))
        .map_err(e)?;
        area.draw(&Text::new(
            alloc.as_str(),
            (x + 20, y),
            ("sans-serif", 13).into_font(),
        ))
        .map_err(e)?;
    }
    Ok(())
}

/// Writes the chart of `sums` (one suite) to `path`. `baseline` is the allocator every value
/// is divided by (the system allocator when it ran).
pub fn write(path: &Path, title: &str, sums: &[&Summary], baseline: &str) -> Result<(), String> {
    let mut workloads: Vec<String> = Vec::new();
    let mut allocs: Vec<String> = Vec::new();
    for s in sums {
        if !workloads.contains(&s.workload) {
            workloads.push(s.workload.clone());
        }
        if !allocs.contains(&s.alloc) {
            allocs.push(s.alloc.clone());
        }
    }
    if workloads.is_empty() {
        return Ok(());
    }
    let width =
        (workloads.len() as u32 * 34 * (allocs.len() as u32 + 1) / 2).max(900) + 100 + LEGEND_WIDTH;
    let root = SVGBackend::new(path, (width, 900)).into_drawing_area();
    let e = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(e)?;
    let (upper, lower) = root.split_vertically(440);
    let time = grid(sums, &workloads, &allocs, baseline, |s| {
        s.wall_s.map(|w| w.median)
    });
    let rss = grid(sums, &workloads, &allocs, baseline, |s| {
        s.peak_rss_mib.map(|m| m.median)
    });
    panel(&upper, "median wall time", &workloads, &allocs, &time)?;
    panel(&lower, "median peak RSS", &workloads, &allocs, &rss)?;
    root.present().map_err(e)?;
    Ok(())
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include "runreport.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QFile>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QSaveFile>
#include <QTextDocument>
#include <QUrl>

#include "base/metrics.h"
#include "base/error.h"
#include "reportfigures.h"

namespace gqa {
namespace {
using report::Series;

QString esc(const QString& s) { return s.toHtmlEscaped(); }
std::string local(const QString& s) { return QFile::encodeName(s).toStdString(); }

QString number(double v, int precision = 4) {
    return std::isfinite(v) ? QString::number(v, 'g', precision) : QStringLiteral("–");
}

QString list(const QStringList& items) {
    QString html = QStringLiteral("<ul>");
    for (const QString& i : items) html += QStringLiteral("<li>%1</li>").arg(esc(i));
    return html + QStringLiteral("</ul>");
}

/// Collects figures: PNG files for the HTML, images for the PDF's QTextDocument.
class Figures {
public:
    explicit Figures(QString folder) : m_folder(std::move(folder)) {}
    QString add(const QString& name, const QImage& image) {
        const QString rel = QStringLiteral("report_files/%1.png").arg(name);
        if (!image.save(QDir(m_folder).filePath(name + QStringLiteral(".png"))))
            throw Error("cannot write the figure " + local(m_folder + "/" + name + ".png"));
        m_images[rel] = image;
        return QStringLiteral("<p><img src=\"%1\" width=\"%2\" height=\"%3\"></p>")
            .arg(rel)
            .arg(image.width())
            .arg(image.height());
    }
    const std::map<QString, QImage>& images() const { return m_images; }

private:
    QString m_folder;
    std::map<QString, QImage> m_images;
};

QString summarySection(const ReportData& d) {
    QString h = QStringLiteral("<h1>GQA conversion report: %1</h1>").arg(esc(d.modelName));
    h += QStringLiteral("<p>%1 attention heads per layer → <b>G = %2</b> KV heads. Written %3.</p>")
             .arg(d.heads)
             .arg(d.groups)
             .arg(QDateTime::currentDateTime().toString(Qt::ISODate));
    h += QStringLiteral("<table border=\"1\" cellspacing=\"0\" cellpadding=\"3\">");
    auto row = [&](const QString& k, const QString& v) {
        h += QStringLiteral("<tr><th align=\"left\">%1</th><td>%2</td></tr>").arg(k, v);
    };
    row(QStringLiteral("run folder"), esc(d.runFolder));
    row(QStringLiteral("run file"), esc(d.runFile));
    row(QStringLiteral("original model"), esc(d.modelFolder));
    row(QStringLiteral("family"), esc(d.family));
    row(QStringLiteral("parameters"), QString::number(d.parameterCount));
    row(QStringLiteral("exported GQA model"),
        d.exportFound ? esc(d.exportFolder) : QStringLiteral("not found"));
    row(QStringLiteral("export check"),
        !d.exportFound     ? QStringLiteral("–")
        : d.exportVerified ? QStringLiteral("verified (max relative logit difference %1)")
                                 .arg(number(d.exportMaxRelativeLogitDiff, 3))
                           : QStringLiteral("NOT verified (max relative logit difference %1)")
                                 .arg(number(d.exportMaxRelativeLogitDiff, 3)));
    return h + QStringLiteral("</table>");
}

QString evaluationSection(const ReportData& d) {
    QString h = QStringLiteral("<h2>Evaluation</h2>");
    h += QStringLiteral(
        "<table border=\"1\" cellspacing=\"0\" cellpadding=\"3\"><tr><th>model</th><th>KV "
        "heads</th><th>KV cache bytes/token</th><th>perplexity</th><th>tokens scored</th></tr>");
    for (const auto& r : d.evaluation)
        h += QStringLiteral(
                 "<tr><td>%1</td><td align=\"right\">%2</td><td align=\"right\">%3</td>"
                 "<td align=\"right\">%4</td><td align=\"right\">%5</td></tr>")
                 .arg(esc(r.name))
                 .arg(r.kvHeads)
                 .arg(r.kvBytesPerToken)
                 .arg(number(r.perplexity, 5))
                 .arg(r.tokensScored);
    h += QStringLiteral("</table>");
    if (!d.evaluationTextFile.isEmpty())
        h += QStringLiteral("<p>Text: %1; %2.</p>")
                 .arg(esc(d.evaluationTextFile), esc(d.evaluationProtocol));
    if (!d.evaluationNote.isEmpty())
        h += QStringLiteral("<p><i>%1</i></p>").arg(esc(d.evaluationNote));
    for (const auto& e : d.storedEvaluations) {
        h += QStringLiteral("<h3>Stored evaluation, %1 (gqa-cli eval --run)</h3>").arg(esc(e.time));
        h += list(e.setup);
        h += QStringLiteral("<table border=\"1\" cellspacing=\"0\" cellpadding=\"3\"><tr>");
        for (const QString& c : e.header) h += QStringLiteral("<th>%1</th>").arg(esc(c));
        h += QStringLiteral("</tr>");
        for (const QStringList& row : e.rows) {
            h += QStringLiteral("<tr>");
            for (int c = 0; c < row.size(); ++c)
                h += QStringLiteral("<td%1>%2</td>")
                         .arg(c == 0 ? QString() : QStringLiteral(" align=\"right\""), esc(row[c]));
            h += QStringLiteral("</tr>");
        }
        h += QStringLiteral("</table>");
    }
    return h;
}

QString settingsSection(const ReportData& d) {
    QString h = QStringLiteral("<h2 style=\"page-break-before: always\">Model</h2>");
    h += list(d.configSummary);
    h += QStringLiteral("<h2>Settings</h2><h3>Training</h3>");
    h += d.settingsJson.isEmpty()
             ? QStringLiteral("<p>(none recorded)</p>")
             : QStringLiteral("<pre style=\"font-size: 7pt\">%1</pre>").arg(esc(d.settingsJson));
    h += QStringLiteral("<h3>Calibration</h3>") + list(d.calibrationSummary);
    h += QStringLiteral("<h2>Versions</h2>") + list(d.versions);
    return h;
}

QString groupText(const std::vector<std::vector<std::int64_t>>& grouping) {
    QStringList groups;
    for (const auto& g : grouping) {
        QStringList heads;
        for (auto h : g) heads << QString::number(h);
        groups << QStringLiteral("{%1}").arg(heads.join(QStringLiteral(", ")));
    }
    return groups.join(QStringLiteral(" "));
}

QString similaritySection(const ReportData& d, Figures& figures) {
    if (d.meanSimilarityBefore.empty()) return {};
    QString h = QStringLiteral("<h2 style=\"page-break-before: always\">Head similarity</h2>");
    h += QStringLiteral(
        "<p>Value-head similarity from the stored calibration statistics, before "
        "and after pairwise alignment (mean of the off-diagonal entries).</p>");
    std::vector<double> layers;
    for (std::size_t l = 0; l < d.meanSimilarityBefore.size(); ++l) layers.push_back(double(l));
    h += figures.add(QStringLiteral("similarity-per-layer"),
                     report::linePlot(QStringLiteral("Mean similarity per layer"),
                                      QStringLiteral("layer"), layers,
                                      {{QStringLiteral("before alignment"), d.meanSimilarityBefore},
                                       {QStringLiteral("after alignment"), d.meanSimilarityAfter}},
                                      false, 600, 240));
    for (const auto& s : d.similarity) {
        // Colour range from the off-diagonal entries (the diagonal is trivial and would dominate).
        double lo = 1e300, hi = -1e300;
        for (const auto* m : {&s.before, &s.after})
            for (std::size_t i = 0; i < m->size(); ++i)
                if (int(i) / s.heads != int(i) % s.heads)
                    lo = std::min(lo, (*m)[i]), hi = std::max(hi, (*m)[i]);
        const QString head = QStringLiteral("head");
        h += figures.add(
            QStringLiteral("similarity-layer-%1").arg(s.layer),
            report::sideBySide(
                report::heatmap(QStringLiteral("Layer %1 before (mean %2)")
                                    .arg(s.layer)
                                    .arg(number(s.meanBefore, 3)),
                                s.before, s.heads, s.heads, head, head, lo, hi, 300, 250),
                report::heatmap(QStringLiteral("Layer %1 after (mean %2)")
                                    .arg(s.layer)
                                    .arg(number(s.meanAfter, 3)),
                                s.after, s.heads, s.heads, head, head, lo, hi, 300, 250)));
    }
    h += QStringLiteral("<h2>Chosen groups (G = %1)</h2>").arg(d.groups);
    if (!d.groupingSource.isEmpty())
        h += QStringLiteral("<p>Groups: %1.</p>").arg(d.groupingSource.toHtmlEscaped());
    h += QStringLiteral(
        "<p>Predicted merge cost: the share of the heads' key/value signal lost when each group "
        "is merged without training (mean of keys and values; 0% = free). Mean-pool: consecutive "
        "heads averaged (the baseline); aligned: these groups aligned, then averaged (the "
        "paper's); least-squares: aligned, averaged, and each query head's projections refitted "
        "(docs/method.md &sect;7.2).</p>");
    h += QStringLiteral(
        "<table border=\"1\" cellspacing=\"0\" cellpadding=\"2\"><tr><th>layer</th>"
        "<th>groups of query heads sharing one KV head</th><th>mean-pool</th><th>aligned</th>"
        "<th>least-squares</th></tr>");
    auto pct = [](double f) { return QStringLiteral("%1%").arg(100.0 * f, 0, 'f', 1); };
    for (std::size_t l = 0; l < d.groupings.size(); ++l) {
        const bool costed = l < d.mergeCosts.size();
        h += QStringLiteral(
                 "<tr><td align=\"right\">%1</td><td>%2</td><td align=\"right\">%3</td>"
                 "<td align=\"right\">%4</td><td align=\"right\">%5</td></tr>")
                 .arg(l)
                 .arg(groupText(d.groupings[l]), costed ? pct(d.mergeCosts[l].meanPool) : QString(),
                      costed ? pct(d.mergeCosts[l].aligned) : QString(),
                      costed ? pct(d.mergeCosts[l].leastSquares) : QString());
    }
    return h + QStringLiteral("</table>");
}

QString trainingSection(const ReportData& d, Figures& figures) {
    if (d.metrics.empty()) return QStringLiteral("<h2>Training</h2><p>No training updates.</p>");
    QString h = QStringLiteral("<h2 style=\"page-break-before: always\">Training</h2>");
    std::vector<double> steps = d.column(metricKey(Metric::Step));
    if (steps.empty())
        for (std::size_t i = 0; i < d.metrics.size(); ++i) steps.push_back(double(i + 1));
    std::vector<Series> losses;
    for (Metric m : {Metric::Loss, Metric::Kl, Metric::Bild, Metric::Lm, Metric::Regularizer})
        losses.push_back({QString::fromUtf8(metricLabel(m)), d.column(metricKey(m))});
    if (!d.validation.empty()) {
        // Validation points on the update axis: NaN elsewhere.
        std::vector<double> v(steps.size(), std::nan(""));
        for (const auto& [step, loss] : d.validation) {
            const auto it = std::lower_bound(steps.begin(), steps.end(), step);
            if (it != steps.end()) v[std::size_t(it - steps.begin())] = loss;
        }
        losses.push_back({QStringLiteral("validation loss"), v, false, true});
    }
    h += figures.add(QStringLiteral("losses"),
                     report::linePlot(QStringLiteral("Loss terms"), QStringLiteral("update"), steps,
                                      losses, true, 600, 260));
    h += figures.add(QStringLiteral("sparsity"),
                     report::linePlot(QStringLiteral("Expected sparsity vs target"),
                                      QStringLiteral("update"), steps,
                                      {{QString::fromUtf8(metricLabel(Metric::Sparsity)),
                                        d.column(metricKey(Metric::Sparsity))},
                                       {QString::fromUtf8(metricLabel(Metric::TargetSparsity)),
                                        d.column(metricKey(Metric::TargetSparsity)), true}},
                                      false, 600, 220));
    h += figures.add(
        QStringLiteral("learning-rates"),
        report::linePlot(QStringLiteral("Learning rates"), QStringLiteral("update"), steps,
                         {{QString::fromUtf8(metricLabel(Metric::LearningRate)),
                           d.column(metricKey(Metric::LearningRate))},
                          {QString::fromUtf8(metricLabel(Metric::GateLearningRate)),
                           d.column(metricKey(Metric::GateLearningRate))}},
                         false, 600, 220));
    if (d.gates.empty() || d.layers <= 0 || d.heads <= 0) return h;
    h += QStringLiteral("<h2 style=\"page-break-before: always\">Gate trajectory</h2>");
    std::vector<Series> means;
    for (int l = 0; l < d.layers; ++l) {
        std::vector<double> mean;
        for (const auto& g : d.gates) {
            double sum = 0.0;
            for (int k = 0; k < d.heads; ++k) sum += g[std::size_t(l * d.heads + k)];
            mean.push_back(sum / d.heads);
        }
        means.push_back({QStringLiteral("layer %1").arg(l), mean});
    }
    h += figures.add(QStringLiteral("gate-trajectory"),
                     report::linePlot(QStringLiteral("Mean gate per layer"),
                                      QStringLiteral("update"), steps, means, false, 600, 280));
    h += figures.add(
        QStringLiteral("final-gates"),
        report::heatmap(QStringLiteral("Final gates (update %1)").arg(steps.back()), d.gates.back(),
                        d.layers, d.heads, QStringLiteral("head"), QStringLiteral("layer"), 0.0,
                        1.0, 600, 60 + 24 * d.layers, report::HeatmapColors::Gates));
    return h;
}

QString exportSection(const ReportData& d) {
    QString h = QStringLiteral("<h2>Export</h2>");
    if (!d.exportFound) return h + QStringLiteral("<p>No exported model was found.</p>");
    h += QStringLiteral("<p>The exported GQA model is in <b>%1</b>. ").arg(esc(d.exportFolder));
    h += d.exportVerified ? QStringLiteral(
                                "Its logits were verified against the trained model (max relative "
                                "difference %1).</p>")
                                .arg(number(d.exportMaxRelativeLogitDiff, 3))
                          : QStringLiteral("It was NOT verified.</p>");
    if (!d.notes.isEmpty()) h += QStringLiteral("<h2>Notes</h2>") + list(d.notes);
    return h;
}

void replaceFile(const QString& tmp, const QString& target) {
    if (std::rename(local(tmp).c_str(), local(target).c_str()) != 0)
        throw Error("cannot rename " + local(tmp) + " to " + local(target));
}

void writePdf(const QString& html, const Figures& figures, const QString& path,
              const QString& title) {
    const QString tmp = path + QStringLiteral(".tmp");
    {
        QPdfWriter writer(tmp);
        writer.setTitle(title);
        writer.setCreator(QStringLiteral("GQA Studio " GQA_VERSION));
        writer.setPageSize(QPageSize(QPageSize::A4));
        writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout::Millimeter);
        QTextDocument doc;
        QFont font(QStringLiteral("Sans"));
        font.setPointSizeF(9);
        doc.setDefaultFont(font);
        for (const auto& [url, image] : figures.images())
            doc.addResource(QTextDocument::ImageResource, QUrl(url), image);
        doc.setHtml(html);
        doc.print(&writer);
    }
    if (!QFileInfo::exists(tmp)) throw Error("cannot write " + local(tmp));
    replaceFile(tmp, path);
}
}  // namespace

ReportResult writeReport(const ReportData& d, const ReportConfig& config) {
    const QString out = config.outputFolder.isEmpty() ? d.runFolder : config.outputFolder;
    if (!QDir().mkpath(out)) throw Error("cannot create " + local(out));
    const QDir dir(out);
    const QString tmpFigures = dir.filePath(QStringLiteral("report_files.tmp"));
    QDir(tmpFigures).removeRecursively();
    QDir().mkpath(tmpFigures);
    Figures figures(tmpFigures);

    QString body = summarySection(d) + evaluationSection(d) + similaritySection(d, figures) +
                   trainingSection(d, figures) + exportSection(d) + settingsSection(d);
    const QString title = QStringLiteral("GQA conversion report: %1").arg(d.modelName);
    const QString html =
        QStringLiteral(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%1</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
            "th{background:#eee}</style></head><body>\n%2\n</body></html>\n")
            .arg(esc(title), body);

    const QString figuresDir = dir.filePath(QStringLiteral("report_files"));
    QDir(figuresDir).removeRecursively();
    if (!QDir().rename(tmpFigures, figuresDir)) throw Error("cannot create " + local(figuresDir));

    ReportResult result;
    result.notes = d.notes;
    result.htmlPath = dir.filePath(QStringLiteral("report.html"));
    QSaveFile file(result.htmlPath);
    if (!file.open(QIODevice::WriteOnly) || file.write(html.toUtf8()) < 0 || !file.commit())
        throw Error("cannot write " + local(result.htmlPath));
    if (config.writePdf) {
        result.pdfPath = dir.filePath(QStringLiteral("report.pdf"));
        writePdf(html, figures, result.pdfPath, title);
    }
    return result;
}

ReportResult writeRunReport(const ReportConfig& config, const ReportProgress& progress) {
    const ReportData data = gatherReportData(config, progress);
    if (progress) progress(0.95, QStringLiteral("writing the report"));
    ReportResult r = writeReport(data, config);
    if (progress) progress(1.0, QStringLiteral("report written"));
    return r;
}

}  // namespace gqa

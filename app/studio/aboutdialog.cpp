// SPDX-License-Identifier: GPL-3.0-or-later
#include "aboutdialog.h"

#include <exception>

#include <QApplication>
#include <QClipboard>
#include <QDialogButtonBox>
#include <QFile>
#include <QFormLayout>
#include <QGroupBox>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPushButton>
#include <QSysInfo>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "text/sentencepieceplugin.h"
#include "base/versions.h"

namespace gqa {
namespace {
constexpr int kIconSize = 96;

QString fromStd(const std::string& text) { return QString::fromStdString(text); }

QString sentencePiecePlugin() {
    try {
        return QFile::decodeName(spm::pluginPath().c_str());
    } catch (const std::exception& e) {
        return AboutDialog::tr("not loaded (%1)").arg(QString::fromLocal8Bit(e.what()));
    }
}

QLabel* selectableLabel(const QString& text, QWidget* parent) {
    auto* label = new QLabel(text, parent);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    label->setWordWrap(true);
    return label;
}
}  // namespace

QList<QPair<QString, QString>> AboutDialog::components() {
    const QString blas = fromStd(blasLibrary());
    QString system = QSysInfo::prettyProductName();
    if (!QGuiApplication::platformName().isEmpty())
        system += tr(", %1 display").arg(QGuiApplication::platformName());
    return {
        {tr("GQA Studio"), QStringLiteral(GQA_VERSION)},
        {tr("Qt"), tr("%1 (built with %2)")
                       .arg(QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR))},
        {tr("LibTorch"), tr("%1 (%2)").arg(fromStd(torchVersion()), fromStd(torchBackends()))},
        {tr("Compute"), fromStd(computeFeatures())},
        {tr("BLAS"), blas.isEmpty() ? tr("not loaded") : blas},
        {tr("HDF5"), fromStd(hdf5Version())},
        {tr("QCustomPlot"), QStringLiteral(QCUSTOMPLOT_VERSION_STR)},
        {tr("SentencePiece plug-in"), sentencePiecePlugin()},
        {tr("System"), system},
    };
}

QString AboutDialog::versionsText() {
    QString text;
    for (const auto& [component, version] : components())
        text += QStringLiteral("%1: %2\n").arg(component, version);
    return text;
}

void AboutDialog::copyVersions() { QApplication::clipboard()->setText(versionsText()); }

AboutDialog::AboutDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("About GQA Studio"));
    setObjectName(QStringLiteral("aboutDialog"));

    auto* iconLabel = new QLabel(this);
    iconLabel->setPixmap(windowIcon().pixmap(kIconSize, kIconSize));
    iconLabel->setAlignment(Qt::AlignTop | Qt::AlignHCenter);
    iconLabel->setMinimumWidth(kIconSize + 8);

    auto* title = new QLabel(
        tr("<h2 style='margin-bottom:0'>GQA Studio</h2><p style='margin-top:2px'>Version %1</p>")
            .arg(QStringLiteral(GQA_VERSION)),
        this);
    auto* purpose =
        selectableLabel(tr("Converts multi-head-attention models (Llama, Qwen2, Gemma, Phi, "
                           "StableLM, OLMo, Mistral) to grouped-query attention by aligning "
                           "attention heads before merging them (Jin et al., 2024)."),
                        this);
    auto* licence =
        new QLabel(tr("Free software under the GNU General Public License, version 3 or later "
                      "(<a href='https://www.gnu.org/licenses/gpl-3.0.html'>"
                      "GPL&#8209;3.0&#8209;or&#8209;later</a>). "  // non-breaking hyphens
                      "It comes with absolutely no warranty."),
                   this);
    licence->setWordWrap(true);
    licence->setOpenExternalLinks(true);

    auto* versions = new QGroupBox(tr("Runs on"), this);
    auto* form = new QFormLayout(versions);
    form->setLabelAlignment(Qt::AlignRight);
    for (const auto& [component, version] : components()) {
        if (component == tr("GQA Studio")) continue;  // in the title already
        QLabel* value = selectableLabel(version, versions);
        value->setWordWrap(false);  // paths read best on one line; they set the dialog's width
        form->addRow(component + QLatin1Char(':'), value);
    }

    auto* text = new QVBoxLayout;
    text->addWidget(title);
    text->addWidget(purpose);
    text->addWidget(licence);
    text->addSpacing(6);
    text->addWidget(versions);
    auto* top = new QHBoxLayout;
    top->addWidget(iconLabel);
    top->addLayout(text, 1);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    QPushButton* copy = buttons->addButton(tr("&Copy Versions"), QDialogButtonBox::ActionRole);
    copy->setObjectName(QStringLiteral("copyVersionsButton"));
    copy->setToolTip(tr("Copy the versions above as text, for a bug report"));
    connect(copy, &QPushButton::clicked, this, &AboutDialog::copyVersions);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(buttons);
    // The size the contents ask for, with the wrapped paragraphs at the width of the versions.
    layout->setSizeConstraint(QLayout::SetFixedSize);
}

}  // namespace gqa

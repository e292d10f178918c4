// SPDX-License-Identifier: GPL-3.0-or-later
// The studio's widgets and main window, offscreen: the tensor table model (data, sorting,
// filtering), the config view's KV-cache numbers, and the main window opening good and bad model
// folders without ever blocking on a modal dialog.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <QApplication>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QTableWidget>
#include <gtest/gtest.h>

#include "humanformat.h"
#include "mainwindow.h"
#include "modelconfigview.h"
#include "modelpanel.h"
#include "pathrow.h"
#include "tensortablemodel.h"
#include "testsupport.h"

namespace gqa {
namespace {

StoredTensor tensor(const std::string& name, DType dtype, std::vector<std::int64_t> shape,
                    const std::string& file = "model.safetensors") {
    StoredTensor t;
    t.info.name = name;
    t.info.dtype = dtype;
    t.info.shape = std::move(shape);
    t.info.dataBegin = 0;
    t.info.dataEnd = static_cast<std::uint64_t>(t.info.numel()) * dtypeSize(dtype);
    t.file = file;
    return t;
}

std::vector<StoredTensor> sampleTensors() {
    return {tensor("model.layers.10.self_attn.q_proj.weight", DType::BF16, {4096, 4096},
                   "model-00002-of-00002.safetensors"),
            tensor("model.layers.2.self_attn.q_proj.weight", DType::BF16, {4096, 4096},
                   "model-00001-of-00002.safetensors"),
            tensor("model.norm.weight", DType::F32, {4096}, "model-00002-of-00002.safetensors"),
            tensor("model.embed_tokens.weight", DType::BF16, {32000, 4096},
                   "model-00001-of-00002.safetensors")};
}

QString cell(const QAbstractItemModel& model, int row, int column) {
    return model.data(model.index(row, column)).toString();
}

// A Llama-2-7B-shaped config, for numbers a reader can check by hand.
ModelConfig llama7bConfig() {
    ModelConfig c;
    c.vocabSize = 32000;
    c.hiddenSize = 4096;
    c.intermediateSize = 11008;
    c.numLayers = 32;
    c.numHeads = 32;
    c.numKvHeads = 32;
    c.headDim = 128;
    c.maxPositionEmbeddings = 4096;
    c.dtype = DType::BF16;
    return c;
}

// A window whose errors are recorded instead of shown in a modal QMessageBox.
struct RecordingWindow {
    MainWindow window;
    QStringList errors;
    RecordingWindow() {
        window.setErrorReporter(
            [this](const QString&, const QString& message) { errors << message; });
    }
};

// Path fields have a Browse button and show the whole path on hover.
TEST(PathRow, BrowseFillsTheFieldAndTheTooltipShowsTheWholePath) {
    auto* edit = new QLineEdit;
    edit->setObjectName(QStringLiteral("textEdit"));
    edit->setToolTip(QStringLiteral("What this field is for"));
    std::unique_ptr<QWidget> row(pathRow(edit, BrowseFor::Files));
    auto* browse = row->findChild<QPushButton*>(QStringLiteral("textEditBrowse"));
    ASSERT_NE(browse, nullptr);
    QStringList asked;
    setPathChooser([&](QWidget*, BrowseFor what, const QString& current, const QString&) {
        asked << (what == BrowseFor::Files ? QStringLiteral("files:") : QStringLiteral("?:")) +
                     current;
        return QStringLiteral("/long/path/a.txt;/long/path/b.txt");
    });
    QSignalSpy edited(edit, &QLineEdit::textEdited);
    edit->setText(QStringLiteral("/old.txt"));
    browse->click();
    setPathChooser(nullptr);
    EXPECT_EQ(asked, QStringList{QStringLiteral("files:/old.txt")});
    EXPECT_EQ(edit->text(), QStringLiteral("/long/path/a.txt;/long/path/b.txt"));
    EXPECT_EQ(edited.count(), 1);  // a choice counts as the user's edit
    EXPECT_EQ(edit->toolTip(),
              QStringLiteral("What this field is for\n/long/path/a.txt;/long/path/b.txt"));
    edit->setEnabled(false);
    EXPECT_FALSE(browse->isEnabled());
    edit->setEnabled(true);
    EXPECT_TRUE(browse->isEnabled());
}

TEST(HumanFormat, CountsBytesIntegersShapes) {
    EXPECT_EQ(formatCount(812), QStringLiteral("812"));
    EXPECT_EQ(formatCount(27008), QStringLiteral("27.0 K"));
    EXPECT_EQ(formatCount(12345678), QStringLiteral("12.3 M"));
    EXPECT_EQ(formatCount(6738415616), QStringLiteral("6.7 B"));
    EXPECT_EQ(formatCount(999999), QStringLiteral("1.0 M"));  // not "1000.0 K"
    EXPECT_EQ(formatBytes(512), QStringLiteral("512 B"));
    EXPECT_EQ(formatBytes(4096), QStringLiteral("4.0 KiB"));
    EXPECT_EQ(formatBytes(3ull << 30), QStringLiteral("3.0 GiB"));
    EXPECT_EQ(formatInteger(27008), QStringLiteral("27,008"));
    EXPECT_EQ(formatInteger(-1234567), QStringLiteral("-1,234,567"));
    EXPECT_EQ(formatInteger(999), QStringLiteral("999"));
    EXPECT_EQ(formatShape({32, 61}), QStringLiteral("[32, 61]"));
    EXPECT_EQ(formatShape({}), QStringLiteral("[]"));
}

TEST(TensorTableModel, RowsColumnsAndData) {
    TensorTableModel model;
    EXPECT_EQ(model.rowCount(), 0);
    model.setTensors(sampleTensors());
    ASSERT_EQ(model.rowCount(), 4);
    ASSERT_EQ(model.columnCount(), 6);
    EXPECT_EQ(model.headerData(TensorTableModel::NameColumn, Qt::Horizontal).toString(),
              QStringLiteral("Name"));
    EXPECT_EQ(model.headerData(TensorTableModel::FileColumn, Qt::Horizontal).toString(),
              QStringLiteral("File"));
    // Row 3: the embedding, 32000 x 4096 in BF16.
    EXPECT_EQ(cell(model, 3, TensorTableModel::NameColumn),
              QStringLiteral("model.embed_tokens.weight"));
    EXPECT_EQ(cell(model, 3, TensorTableModel::DTypeColumn), QStringLiteral("BF16"));
    EXPECT_EQ(cell(model, 3, TensorTableModel::ShapeColumn), QStringLiteral("[32000, 4096]"));
    EXPECT_EQ(cell(model, 3, TensorTableModel::ParametersColumn), QStringLiteral("131.1 M"));
    EXPECT_EQ(cell(model, 3, TensorTableModel::BytesColumn), QStringLiteral("250.0 MiB"));
    EXPECT_EQ(cell(model, 3, TensorTableModel::FileColumn),
              QStringLiteral("model-00001-of-00002.safetensors"));
    EXPECT_EQ(
        model.data(model.index(3, TensorTableModel::ParametersColumn), Qt::ToolTipRole).toString(),
        QStringLiteral("131,072,000"));
    EXPECT_FALSE(model.data(model.index(4, 0)).isValid());  // out of range: no crash, no data
    model.clear();
    EXPECT_EQ(model.rowCount(), 0);
}

TEST(TensorTableModel, SortsNumbersNumericallyAndNamesNaturally) {
    TensorTableModel model;
    model.setTensors(sampleTensors());
    QSortFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    proxy.setSortRole(TensorTableModel::SortRole);

    proxy.sort(TensorTableModel::ParametersColumn, Qt::DescendingOrder);
    EXPECT_EQ(cell(proxy, 0, 0), QStringLiteral("model.embed_tokens.weight"));
    EXPECT_EQ(cell(proxy, 3, 0), QStringLiteral("model.norm.weight"));

    proxy.sort(TensorTableModel::BytesColumn, Qt::AscendingOrder);
    EXPECT_EQ(cell(proxy, 0, 0), QStringLiteral("model.norm.weight"));

    // "layers.2" before "layers.10", which plain string order gets wrong.
    proxy.sort(TensorTableModel::NameColumn, Qt::AscendingOrder);
    EXPECT_EQ(cell(proxy, 0, 0), QStringLiteral("model.embed_tokens.weight"));
    EXPECT_EQ(cell(proxy, 1, 0), QStringLiteral("model.layers.2.self_attn.q_proj.weight"));
    EXPECT_EQ(cell(proxy, 2, 0), QStringLiteral("model.layers.10.self_attn.q_proj.weight"));
    EXPECT_EQ(cell(proxy, 3, 0), QStringLiteral("model.norm.weight"));
}

TEST(ModelConfigView, ShowsFieldsAndKvCacheBytesPerToken) {
    ModelConfigView view;
    EXPECT_FALSE(view.hasConfig());
    view.setConfig(test::tinyConfig());  // 2 layers, 4 heads of dim 8, F32
    EXPECT_EQ(view.valueText(QStringLiteral("layers")), QStringLiteral("2"));
    EXPECT_EQ(view.valueText(QStringLiteral("heads")), QStringLiteral("4"));
    EXPECT_EQ(view.valueText(QStringLiteral("kvHeads")), QStringLiteral("4 (MHA)"));
    EXPECT_EQ(view.valueText(QStringLiteral("headDim")), QStringLiteral("8"));
    EXPECT_EQ(view.valueText(QStringLiteral("dtype")), QStringLiteral("float32 (F32, 4 bytes)"));

    const auto* table = view.findChild<QTableWidget*>(QStringLiteral("kvCacheTable"));
    ASSERT_NE(table, nullptr);
    // 2 (K and V) x 2 layers x kv heads x 8 dims x 4 bytes, MHA first.
    ASSERT_EQ(table->rowCount(), 3);
    const char* expected[][3] = {
        {"4", "MHA", "512 B"}, {"2", "GQA", "256 B"}, {"1", "MQA", "128 B"}};
    for (int row = 0; row < 3; ++row) {
        EXPECT_EQ(table->item(row, 0)->text(), QLatin1String(expected[row][0]));
        EXPECT_EQ(table->item(row, 1)->text(), QLatin1String(expected[row][1]));
        EXPECT_EQ(table->item(row, 3)->text(), QLatin1String(expected[row][2]));
    }
    EXPECT_EQ(table->item(1, 5)->text(), QStringLiteral("50%"));
    EXPECT_TRUE(table->item(0, 0)->font().bold());  // the model's own KV heads
    EXPECT_FALSE(table->item(1, 0)->font().bold());
}

TEST(ModelConfigView, UsesTheModelsElementSize) {
    ModelConfigView view;
    view.setConfig(llama7bConfig());  // BF16: 2 x 32 x kv x 128 x 2 bytes
    EXPECT_EQ(view.valueText(QStringLiteral("parameters")),
              QStringLiteral("6.7 B (6,738,415,616)"));
    const auto* table = view.findChild<QTableWidget*>(QStringLiteral("kvCacheTable"));
    ASSERT_NE(table, nullptr);
    ASSERT_EQ(table->rowCount(), 6);  // 32, 16, 8, 4, 2, 1
    EXPECT_EQ(table->item(0, 3)->text(), QStringLiteral("512.0 KiB"));
    EXPECT_EQ(table->item(0, 3)->toolTip(), QStringLiteral("524,288 bytes"));
    EXPECT_EQ(table->item(0, 4)->text(), QStringLiteral("2.0 GiB"));  // 4096 tokens
    EXPECT_EQ(table->item(2, 0)->text(), QStringLiteral("8"));
    EXPECT_EQ(table->item(2, 2)->text(), QStringLiteral("4"));
    EXPECT_EQ(table->item(2, 3)->text(), QStringLiteral("128.0 KiB"));
    EXPECT_EQ(table->item(2, 5)->text(), QStringLiteral("25%"));
    EXPECT_EQ(table->item(5, 1)->text(), QStringLiteral("MQA"));
    EXPECT_EQ(table->item(5, 5)->text(), QStringLiteral("3.1%"));  // 1/32
    view.clear();
    EXPECT_EQ(table->rowCount(), 0);
    EXPECT_FALSE(view.hasConfig());
}

TEST(MainWindow, StartsEmptyWithAnOpenPrompt) {
    MainWindow window;
    EXPECT_FALSE(window.modelPanel()->hasModel());
    EXPECT_EQ(window.windowTitle(), QStringLiteral("GQA Studio"));
    const auto* button = window.findChild<QPushButton*>(QStringLiteral("openFolderButton"));
    ASSERT_NE(button, nullptr);
    EXPECT_TRUE(button->text().startsWith(QStringLiteral("Open a model folder")));
}

TEST(MainWindow, OpeningAGoodFolderShowsItsTensors) {
    const std::string folder = test::writeRandomModel(test::tinyConfig(2), 7);
    RecordingWindow w;
    QSignalSpy opened(&w.window, &MainWindow::modelOpened);
    ASSERT_TRUE(w.window.openModelFolder(QString::fromStdString(folder)));
    EXPECT_TRUE(w.errors.isEmpty());
    EXPECT_EQ(opened.count(), 1);

    ModelPanel* panel = w.window.modelPanel();
    EXPECT_TRUE(panel->hasModel());
    ASSERT_EQ(panel->tensorModel()->rowCount(), 21);  // embed + 2 x 9 + norm + lm_head
    EXPECT_EQ(cell(*panel->tensorProxy(), 0, 0), QStringLiteral("model.embed_tokens.weight"));
    EXPECT_TRUE(panel->problems().isEmpty());
    EXPECT_TRUE(panel->summaryText().startsWith(QStringLiteral("21 tensors")));
    EXPECT_TRUE(panel->summaryText().contains(QStringLiteral("single file")));
    EXPECT_EQ(panel->configView()->valueText(QStringLiteral("kvHeads")), QStringLiteral("2 (GQA)"));
    const QString name = QString::fromStdString(std::filesystem::path(folder).filename());
    EXPECT_TRUE(w.window.windowTitle().contains(name)) << w.window.windowTitle().toStdString();
    EXPECT_EQ(w.window.currentFolder(), QString::fromStdString(folder));

    // The filter narrows the table to the two k_proj tensors.
    panel->filterEdit()->setText(QStringLiteral("K_PROJ"));
    EXPECT_EQ(panel->tensorProxy()->rowCount(), 2);
    panel->filterEdit()->clear();
    EXPECT_EQ(panel->tensorProxy()->rowCount(), 21);
}

TEST(MainWindow, ShardedFolderIsReportedAsSharded) {
    const std::string folder =
        test::writeRandomModel(test::tinyConfig(), 3, DType::F32, /*maxShardBytes=*/16 * 1024);
    RecordingWindow w;
    ASSERT_TRUE(w.window.openModelFolder(QString::fromStdString(folder)));
    EXPECT_TRUE(w.window.modelPanel()->summaryText().contains(QStringLiteral("sharded")));
}

TEST(MainWindow, BadFolderReportsTheErrorAndKeepsThePreviousModel) {
    const std::string good = test::writeRandomModel(test::tinyConfig(), 11);
    const std::string empty = test::scratchFolder("empty");
    const std::string garbage = test::scratchFolder("garbage");
    std::ofstream(std::filesystem::path(garbage) / "config.json") << "{ not json";

    RecordingWindow w;
    QSignalSpy failed(&w.window, &MainWindow::loadFailed);
    EXPECT_FALSE(w.window.openModelFolder(QString::fromStdString(empty)));
    ASSERT_EQ(w.errors.size(), 1);
    EXPECT_FALSE(w.errors[0].isEmpty());
    EXPECT_EQ(failed.count(), 1);
    EXPECT_FALSE(w.window.modelPanel()->hasModel());  // still the empty state

    ASSERT_TRUE(w.window.openModelFolder(QString::fromStdString(good)));
    const QString title = w.window.windowTitle();
    EXPECT_FALSE(w.window.openModelFolder(QString::fromStdString(garbage)));
    ASSERT_EQ(w.errors.size(), 2);
    EXPECT_TRUE(w.errors[1].contains(QStringLiteral("config.json"))) << w.errors[1].toStdString();
    // The plain statement leads, the reader's detail follows.
    EXPECT_TRUE(w.errors[1].startsWith(QString::fromStdString(garbage) +
                                       QStringLiteral(" is not a model folder")))
        << w.errors[1].toStdString();
    EXPECT_TRUE(w.errors[1].contains(QStringLiteral("Details: "))) << w.errors[1].toStdString();
    EXPECT_FALSE(w.window.openModelFolder(QStringLiteral("/no/such/folder")));
    EXPECT_EQ(w.errors.size(), 3);
    EXPECT_EQ(failed.count(), 3);
    // The good model is still on screen.
    EXPECT_EQ(w.window.windowTitle(), title);
    EXPECT_EQ(w.window.currentFolder(), QString::fromStdString(good));
    EXPECT_EQ(w.window.modelPanel()->tensorModel()->rowCount(), 21);
}

TEST(MainWindow, MissingTensorsAreListedAsProblems) {
    Checkpoint checkpoint = test::randomCheckpoint(test::tinyConfig(), 5);
    checkpoint.erase("lm_head.weight");
    const std::string folder = test::scratchFolder("missing");
    checkpoint.save(folder);

    RecordingWindow w;
    w.window.show();
    ASSERT_TRUE(w.window.openModelFolder(QString::fromStdString(folder)));
    const QStringList& problems = w.window.modelPanel()->problems();
    ASSERT_EQ(problems.size(), 1);
    EXPECT_TRUE(problems[0].contains(QStringLiteral("lm_head.weight")));
    const auto* label = w.window.findChild<QLabel*>(QStringLiteral("problemsLabel"));
    ASSERT_NE(label, nullptr);
    EXPECT_TRUE(label->isVisible());
    EXPECT_TRUE(label->text().contains(QStringLiteral("lm_head.weight")));
}

}  // namespace
}  // namespace gqa

int main(int argc, char** argv) {
    // Offscreen unless told otherwise, so that test discovery and plain runs need no display.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    // QSettings (window geometry, recent models) in Qt's test location, never the user's.
    QStandardPaths::setTestModeEnabled(true);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}

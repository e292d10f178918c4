// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A path field with a "Browse…" button next to it: the button opens the file dialog that fits what
// the field holds (a file, several files joined by ';', or a folder) and writes the choice into
// the field; the field's tooltip always shows the whole path (a long path does not fit the form's
// width). The field stays a plain QLineEdit, so the code that reads it and its tests are unchanged.

#include <functional>

#include <QString>

class QLineEdit;
class QWidget;

namespace gqa {

enum class BrowseFor { File, Files, Folder };

/// The row widget holding `edit` and its button (object name: edit's name + "Browse"). `filter` is
/// the dialog's name filter for files ("Text (*.txt)"). The button is disabled with the field.
QWidget* pathRow(QLineEdit* edit, BrowseFor what, const QString& filter = QString());

/// The dialog used by every path row; tests replace it (returns the chosen text, empty: none).
using PathChooser = std::function<QString(QWidget* parent, BrowseFor what, const QString& current,
                                          const QString& filter)>;
void setPathChooser(PathChooser chooser);

}  // namespace gqa

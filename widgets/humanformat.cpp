// SPDX-License-Identifier: GPL-3.0-or-later
#include "humanformat.h"

#include <QStringList>

namespace gqa {

QString formatCount(std::int64_t count) {
    static const char* const kSuffixes[] = {"K", "M", "B", "T"};
    const bool negative = count < 0;
    double value = negative ? -static_cast<double>(count) : static_cast<double>(count);
    if (value < 1000.0) return QString::number(count);
    int suffix = -1;
    while (value >= 999.95 && suffix < 3) {
        value /= 1000.0;
        ++suffix;
    }
    return QStringLiteral("%1%2 %3")
        .arg(negative ? QStringLiteral("-") : QString())
        .arg(value, 0, 'f', 1)
        .arg(QLatin1String(kSuffixes[suffix]));
}

QString formatBytes(std::uint64_t bytes) {
    static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) return QStringLiteral("%1 B").arg(bytes);
    double value = static_cast<double>(bytes);
    int unit = -1;
    while (value >= 1023.95 && unit < 4) {
        value /= 1024.0;
        ++unit;
    }
    return QStringLiteral("%1 %2").arg(value, 0, 'f', 1).arg(QLatin1String(kUnits[unit]));
}

QString formatInteger(std::int64_t value) {
    const QString digits = QString::number(value < 0 ? -value : value);
    QString grouped;
    for (qsizetype i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) grouped += QLatin1Char(',');
        grouped += digits[i];
    }
    return value < 0 ? QLatin1Char('-') + grouped : grouped;
}

QString formatShape(const std::vector<std::int64_t>& shape) {
    QStringList parts;
    for (std::int64_t d : shape) parts << QString::number(d);
    return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
}

}  // namespace gqa

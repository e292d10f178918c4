// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A tiny MHA model (2 layers, 4 heads of dimension 8) with a 300-piece tokenizer and its training
// text (train.txt in the model folder): a whole conversion run on it takes seconds. Shared by the
// training-widget and conversion-wizard tests.

#include <string>

#include "testsupport.h"
#include "trainingrunner.h"

namespace gqa::test {

struct TinyRunFolder {
    std::string model;
    TinyRunFolder() {
        ModelConfig c = tinyConfig(4);
        c.vocabSize = 300;
        model = writeRandomModel(c, 17);
        std::string text;
        for (int i = 0; i < 400; ++i)
            text += "the cat sat on the mat and the dog ran to the garden " + std::to_string(i) +
                    " times over and over again\n";
        trainTinyTokenizer(model, text);
    }
    std::string textFile() const { return model + "/train.txt"; }
    TrainingSettings settings(int steps, const std::string& output) const {
        TrainingSettings s;
        s.modelFolder = QString::fromStdString(model);
        s.groups = 2;
        s.calibrationFiles = {QString::fromStdString(textFile())};
        s.calibrationSequences = 4;
        s.trainFiles = s.calibrationFiles;
        s.validationFile = s.calibrationFiles.front();
        s.outputFolder = QString::fromStdString(output);
        s.steps = steps;
        s.batchSize = 2;
        s.seqLen = 16;
        s.learningRate = 1e-3;
        s.checkpointEvery = 0;
        s.evalEvery = 0;
        return s;
    }
};

}  // namespace gqa::test

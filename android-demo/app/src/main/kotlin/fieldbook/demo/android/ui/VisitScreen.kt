package fieldbook.demo.android.ui

import android.Manifest
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import fieldbook.demo.ChoiceOptions
import fieldbook.demo.VisitLocation
import fieldbook.demo.VisitViewModel
import kotlinx.coroutines.launch

/** 拜访记录: written right after the visit, usually offline; the position is optional. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun VisitScreen(visit: VisitViewModel, onSaved: () -> Unit) {
    val state by visit.state.collectAsStateWithLifecycle()
    val scope = rememberCoroutineScope()
    // Ask for the permission when the rep taps 定位, not at start: a rep who never logs
    // positions is never asked.
    val permission = rememberLauncherForActivityResult(ActivityResultContracts.RequestMultiplePermissions()) {
        scope.launch { visit.locate() }
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text("记录拜访") },
                actions = {
                    TextButton(
                        onClick = { scope.launch { if (visit.save() != null) onSaved() } },
                        enabled = !state.saving && state.summary.isNotBlank(),
                    ) { Text("保存") }
                },
            )
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp)) {
            state.message?.let { MessageLine(it, onDismiss = visit::dismissMessage) }
            Row {
                ChoiceOptions.forPath("visits.*.kind").orEmpty().forEach { option ->
                    FilterChip(
                        selected = state.kind == option.code,
                        onClick = { visit.update { it.copy(kind = option.code) } },
                        label = { Text(option.label) },
                        modifier = Modifier.padding(end = 4.dp),
                    )
                }
            }
            VisitField("地点", state.place) { v -> visit.update { it.copy(place = v) } }
            VisitField("洽谈内容", state.summary, lines = 4) { v -> visit.update { it.copy(summary = v) } }
            VisitField("结果", state.outcome) { v -> visit.update { it.copy(outcome = v) } }
            VisitField("下一步", state.nextStep) { v -> visit.update { it.copy(nextStep = v) } }
            VisitField("下次拜访（2026-12-08）", state.nextVisit) { v -> visit.update { it.copy(nextVisit = v) } }
            Row(Modifier.padding(top = 12.dp)) {
                OutlinedButton(onClick = {
                    permission.launch(arrayOf(Manifest.permission.ACCESS_FINE_LOCATION, Manifest.permission.ACCESS_COARSE_LOCATION))
                }) { Text("定位") }
                Text(
                    when (val l = state.location) {
                        VisitLocation.NotAsked -> "未定位"
                        VisitLocation.Locating -> "正在定位…"
                        is VisitLocation.Fixed -> "%.5f, %.5f".format(l.fix.latitude, l.fix.longitude) +
                            (l.fix.accuracyMeters?.let { "（±${it.toInt()} 米）" } ?: "")
                        is VisitLocation.Missing -> l.text
                    },
                    style = MaterialTheme.typography.bodyMedium,
                    modifier = Modifier.padding(start = 12.dp, top = 12.dp),
                )
            }
        }
    }
}

@Composable
private fun VisitField(label: String, value: String, lines: Int = 1, onChange: (String) -> Unit) {
    OutlinedTextField(
        value = value,
        onValueChange = onChange,
        label = { Text(label) },
        minLines = lines,
        singleLine = lines == 1,
        modifier = Modifier.fillMaxWidth().padding(top = 8.dp),
    )
}

package fieldbook.demo.android.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import fieldbook.demo.HistoryViewModel
import kotlinx.coroutines.launch

/**
 * 客户档案: every change newest first, who and which phone; tapping a change with one
 * card-level field opens that field's values over time.
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun HistoryScreen(history: HistoryViewModel) {
    val state by history.state.collectAsStateWithLifecycle()
    val scope = rememberCoroutineScope()
    LaunchedEffect(history) { history.load() }
    Scaffold(topBar = { TopAppBar(title = { Text("客户档案") }) }) { padding ->
        LazyColumn(Modifier.padding(padding).fillMaxSize()) {
            items(state.rows, key = { it.hash }) { row ->
                // A field's history is offered for card-level fields (an item's own
                // fields change with it and read better on the card).
                val field = row.paths.singleOrNull()?.takeIf { it.count { c -> c == '.' } <= 1 }
                Column(
                    Modifier.fillMaxWidth()
                        .clickable(enabled = field != null) { field?.let { scope.launch { history.openField(it) } } }
                        .padding(horizontal = 16.dp, vertical = 8.dp),
                ) {
                    Text("${row.who} · ${row.time.shown()} · 设备 ${row.device.shortDevice()}", style = MaterialTheme.typography.bodySmall)
                    val labels = row.fieldLabels
                    Text(if (labels.size > 4) labels.take(4).joinToString("、") + " 等 ${labels.size} 项" else labels.joinToString("、"))
                }
                HorizontalDivider()
            }
        }
        if (state.fieldPath != null) {
            AlertDialog(
                onDismissRequest = history::closeField,
                confirmButton = { TextButton(onClick = history::closeField) { Text("关闭") } },
                title = { Text("${state.fieldLabel} 的变化") },
                text = {
                    Column {
                        state.fieldRows.forEach {
                            Text("${it.time.shown()} ${it.who}：${it.value}", modifier = Modifier.padding(vertical = 2.dp))
                        }
                    }
                },
            )
        }
    }
}

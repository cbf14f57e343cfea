package fieldbook.demo.android.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import fieldbook.Field
import fieldbook.demo.CardDetailViewModel
import kotlinx.coroutines.launch

/** 客户资料卡: read before a visit, by section, with the conflict banner on top. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun CardDetailScreen(
    detail: CardDetailViewModel,
    onEdit: () -> Unit,
    onVisit: () -> Unit,
    onHistory: () -> Unit,
    onAddItem: (collection: String) -> Unit,
) {
    val state by detail.state.collectAsStateWithLifecycle()
    val scope = rememberCoroutineScope()
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(state.card?.name ?: "客户") },
                actions = {
                    TextButton(onClick = onVisit) { Text("拜访") }
                    TextButton(onClick = onEdit) { Text("编辑") }
                    TextButton(onClick = onHistory) { Text("档案") }
                },
            )
        },
    ) { padding ->
        LazyColumn(Modifier.padding(padding).fillMaxSize()) {
            state.message?.let { item { MessageLine(it, onDismiss = detail::dismissMessage) } }
            state.banner?.let { banner ->
                item { ConflictBannerView(banner) { path, value -> scope.launch { detail.resolve(path, value) } } }
            }
            state.sections.forEach { section ->
                item { SectionTitle(section.label) }
                items(section.fields, key = { it.path }) { FieldRow(it) }
            }
            state.collections.forEach { collection ->
                item {
                    Row(Modifier.fillMaxWidth()) {
                        SectionTitle("${collection.label}（${collection.items.size}）", Modifier.weight(1f))
                        if (collection.key != "visits") {
                            TextButton(onClick = { onAddItem(collection.key) }) { Text("添加") }
                        }
                    }
                }
                // The visit log newest first: the last visit is what a rep reads first.
                val shown = if (collection.key == "visits") collection.items.asReversed() else collection.items
                items(shown, key = { it.id }) { entry ->
                    Column(Modifier.padding(horizontal = 16.dp, vertical = 6.dp)) {
                        Text(entry.title.ifEmpty { "（无标题）" }, style = MaterialTheme.typography.bodyLarge)
                        entry.fields.filterNot { it.path.endsWith(".id") }.forEach { FieldRow(it, indent = true) }
                    }
                }
            }
        }
    }
}

@Composable
private fun SectionTitle(text: String, modifier: Modifier = Modifier) {
    Text(text, style = MaterialTheme.typography.titleMedium, modifier = modifier.padding(start = 16.dp, top = 16.dp, bottom = 4.dp))
}

@Composable
private fun FieldRow(field: Field, indent: Boolean = false) {
    Row(Modifier.fillMaxWidth().padding(start = if (indent) 8.dp else 16.dp, end = 16.dp, top = 2.dp, bottom = 2.dp)) {
        Text(field.label, style = MaterialTheme.typography.bodyMedium, modifier = Modifier.weight(0.35f))
        Text(
            field.display + if (field.inConflict) " ⚠" else "",
            style = MaterialTheme.typography.bodyMedium,
            color = if (field.inConflict) Color(0xFFB3261E) else Color.Unspecified,
            modifier = Modifier.weight(0.65f),
        )
    }
}
